#!/usr/bin/env python3
"""`make oci`: the built module as an OCI image, without docker.

Writes an OCI image layout (https://github.com/opencontainers/image-spec, image-layout.md)
and a tar of it:

  target/oci/llm-gateway/          oci-layout, index.json, blobs/sha256/...
  target/oci/llm-gateway.tar       the same directory as one file (skopeo's oci-archive:)
  target/oci/llm-gateway.digest    the manifest digest, sha256:<hex>

The image is the "compat" variant of the Wasm image spec (solo-io/wasm, spec-compat.md),
which Istio's WasmPlugin and istio-agent's ECDS fetcher read (pkg/wasm/imagefetcher.go):
exactly one layer of media type application/vnd.oci.image.layer.v1.tar+gzip holding one
file, `plugin.wasm`; config application/vnd.oci.image.config.v1+json; the manifest
annotated module.wasm.image/variant=compat.

Deterministic: the same .wasm gives the same bytes, so the same digest (tar entries with
mtime 0, uid/gid 0, no user names; gzip header mtime 0 and no file name; JSON with sorted
keys and no spaces; no `created` time anywhere). The gzip stream is zlib's at level 9:
the same on one machine, possibly not across zlib builds, which changes only the layer
digest, never the wasm inside it.

Usage: scripts/oci.py [--wasm PATH] [--out DIR] [--name NAME] [--tag TAG]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
PLUGIN_FILE = "plugin.wasm"


def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_entry(name: str, data: bytes | None, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = mode
    if data is None:
        info.type = tarfile.DIRTYPE
    else:
        info.size = len(data)
    return info


def deterministic_tar(entries: list[tuple[str, bytes | None]]) -> bytes:
    """A ustar archive of `entries` (name, bytes or None for a directory), in order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in entries:
            info = tar_entry(name, data, 0o755 if data is None else 0o644)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    # filename="" and mtime=0: nothing of this machine or this moment in the header.
    with gzip.GzipFile(filename="", fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def descriptor(media_type: str, data: bytes, annotations: dict | None = None) -> dict:
    d = {"mediaType": media_type, "digest": sha256(data), "size": len(data)}
    if annotations:
        d["annotations"] = annotations
    return d


def build(wasm: bytes, name: str, tag: str) -> tuple[dict[str, bytes], bytes, bytes, str]:
    """The image's blobs (digest -> bytes), index.json, oci-layout, and the manifest digest."""
    if wasm[:4] != b"\0asm":
        raise ValueError("not a Wasm module (no \\0asm magic)")
    layer_tar = deterministic_tar([(PLUGIN_FILE, wasm)])
    layer = gzip_bytes(layer_tar)
    config = canonical_json({
        # GOARCH/GOOS spelling of what the layer holds; nothing runs this as a container.
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer_tar)]},
    })
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": descriptor(CONFIG_TYPE, config),
        "layers": [descriptor(LAYER_TYPE, layer)],
        "annotations": {
            "module.wasm.image/variant": "compat",
            "org.opencontainers.image.title": name,
            "org.opencontainers.image.version": tag,
            "org.opencontainers.image.description":
                "llm-gateway proxy-wasm filter for Envoy (plugin.wasm, root_id llm-gateway)",
        },
    })
    manifest_digest = sha256(manifest)
    index = canonical_json({
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [descriptor(MANIFEST_TYPE, manifest, {"org.opencontainers.image.ref.name": tag})],
    })
    layout = canonical_json({"imageLayoutVersion": "1.0.0"})
    blobs = {sha256(b): b for b in (layer, config, manifest)}
    return blobs, index, layout, manifest_digest


def write(out: Path, name: str, blobs: dict[str, bytes], index: bytes, layout: bytes,
          manifest_digest: str) -> tuple[Path, Path]:
    image_dir = out / name
    if image_dir.exists():
        shutil.rmtree(image_dir)  # no stale blobs from an earlier module
    (image_dir / "blobs" / "sha256").mkdir(parents=True)
    (image_dir / "oci-layout").write_bytes(layout)
    (image_dir / "index.json").write_bytes(index)
    entries: list[tuple[str, bytes | None]] = [
        ("oci-layout", layout), ("index.json", index), ("blobs/", None), ("blobs/sha256/", None)]
    for digest in sorted(blobs):
        hex_ = digest.split(":", 1)[1]
        (image_dir / "blobs" / "sha256" / hex_).write_bytes(blobs[digest])
        entries.append((f"blobs/sha256/{hex_}", blobs[digest]))
    archive = out / f"{name}.tar"
    archive.write_bytes(deterministic_tar(entries))
    (out / f"{name}.digest").write_text(manifest_digest + "\n")
    return image_dir, archive


def package_version() -> str:
    with open(ROOT / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["package"]["version"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wasm", type=Path, default=ROOT / "target/wasm32-wasip1/release/llm_gateway.wasm")
    p.add_argument("--out", type=Path, default=ROOT / "target/oci")
    p.add_argument("--name", default="llm-gateway")
    p.add_argument("--tag", default=None, help="default: the version in Cargo.toml")
    args = p.parse_args(argv)
    tag = args.tag or package_version()
    if not args.wasm.exists():
        print(f"{args.wasm} is missing: run `make build` first", file=sys.stderr)
        return 1
    wasm = args.wasm.read_bytes()
    blobs, index, layout, digest = build(wasm, args.name, tag)
    args.out.mkdir(parents=True, exist_ok=True)
    image_dir, archive = write(args.out, args.name, blobs, index, layout, digest)
    rel = lambda p: p.relative_to(ROOT) if p.is_relative_to(ROOT) else p  # noqa: E731
    print(f"OCI image layout: {rel(image_dir)}  (tag {tag})")
    print(f"OCI archive:      {rel(archive)}")
    print(f"plugin.wasm:      sha256:{hashlib.sha256(wasm).hexdigest()}  {len(wasm)} bytes")
    print(f"manifest digest:  {digest}")
    print("push (REGISTRY/REPO is yours), then reference it by digest:")
    print(f"  oras cp --from-oci-layout {rel(image_dir)}:{tag} REGISTRY/REPO:{tag}")
    print(f"  crane push {rel(image_dir)} REGISTRY/REPO:{tag}")
    print(f"  skopeo copy oci-archive:{rel(archive)}:{tag} docker://REGISTRY/REPO:{tag}")
    print(f"  url: oci://REGISTRY/REPO@{digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
