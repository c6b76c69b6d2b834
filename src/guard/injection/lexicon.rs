//! The words the signal rules reason about, grouped into concepts ("a verb that discards
//! instructions", "a word that points back at earlier text"), in English and the common
//! European languages. A word may belong to several concepts; the rules combine concepts
//! within word windows, so a new phrasing of a known idea still matches.

use crate::swar::chunk;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Concept bits of a word.
pub(super) type Mask = u64;

pub(super) const IGNORE: Mask = 1 << 0;
pub(super) const PRIOR: Mask = 1 << 1;
pub(super) const INSTR: Mask = 1 << 2;
pub(super) const ALL: Mask = 1 << 3;
pub(super) const SYSTEM: Mask = 1 << 4;
pub(super) const REVEAL: Mask = 1 << 5;
pub(super) const REVEAL_WEAK: Mask = 1 << 6;
pub(super) const YOUR: Mask = 1 << 7;
pub(super) const MY: Mask = 1 << 8;
pub(super) const WH: Mask = 1 << 9;
pub(super) const YOU: Mask = 1 << 10;
pub(super) const TOLD: Mask = 1 << 11;
pub(super) const TEXTY: Mask = 1 << 12;
pub(super) const VERBATIM: Mask = 1 << 13;
pub(super) const NEG: Mask = 1 << 14;
pub(super) const LIMIT: Mask = 1 << 15;
pub(super) const VOID: Mask = 1 << 16;
pub(super) const STOP: Mask = 1 << 17;
pub(super) const FOLLOW: Mask = 1 << 18;
pub(super) const NEGATOR: Mask = 1 << 19;
pub(super) const REFUSE: Mask = 1 << 20;
pub(super) const MODE: Mask = 1 << 21;
pub(super) const DEVWORD: Mask = 1 << 22;
pub(super) const ENABLE: Mask = 1 << 23;
pub(super) const SEND: Mask = 1 << 24;
pub(super) const URL: Mask = 1 << 25;
pub(super) const SECRET_DATA: Mask = 1 << 26;
pub(super) const UNBOUND: Mask = 1 << 27;
pub(super) const NEW: Mask = 1 << 28;
pub(super) const TASK: Mask = 1 << 29;
pub(super) const ABOVE: Mask = 1 << 30;
/// The rot13 form of a concept word ("vtaber"): the text may be rot13-encoded.
pub(super) const ROT13: Mask = 1 << 31;
/// A concept word spelt backwards ("erongi"): the text may be reversed.
pub(super) const REVERSED: Mask = 1 << 32;
pub(super) const SECRET_ID: Mask = 1 << 33;
/// Words of people discussing attacks rather than making one ("how do we mitigate …").
pub(super) const META: Mask = 1 << 34;
pub(super) const TIMES: Mask = 1 << 35;
/// Words that are instructions to be overridden, but too common to ask to be revealed.
pub(super) const INSTR_WEAK: Mask = 1 << 36;
/// "repeat" in the languages we read.
pub(super) const REPEAT: Mask = 1 << 37;
/// A number of at least 20, given to digit words at scan time (not a lexicon entry).
pub(super) const NUMBER: Mask = 1 << 38;
/// Words that introduce a citation: a quoted attack phrase next to them is being talked
/// about ("a hacker says 'disregard all rules'").
pub(super) const CITE: Mask = 1 << 39;
/// Devices and software that have a real "developer mode" (phones, browsers, consoles).
pub(super) const DEVICE: Mask = 1 << 40;
/// "Ignore" and "reveal" in languages that put the verb last ("पिछले सभी निर्देशों को
/// अनदेखा करो", "önceki talimatları yoksay"): their rules look back, not forward.
pub(super) const IGNORE_LAST: Mask = 1 << 41;
pub(super) const REVEAL_LAST: Mask = 1 << 42;
/// Names of an AI that reads text: "LLM", "chatbot", "Copilot".
pub(super) const AI_NOUN: Mask = 1 << 43;
/// Words that name an AI only beside a qualifier ("AI assistant", "automated agent",
/// "language model"): alone they are people and things too.
pub(super) const AI_WEAK: Mask = 1 << 44;
pub(super) const AI_QUAL: Mask = 1 << 45;
/// Reading a text: "processing", "summarising", "parsing".
pub(super) const READS: Mask = 1 << 46;
/// "whoever", "whatever": a reader nobody names.
pub(super) const WHOEVER: Mask = 1 << 61;
/// Verbs of a machine going through a text ("summarising", "parsing", "indexing"), not
/// a person's "reading".
pub(super) const READS_MACHINE: Mask = 1 << 62;
/// "this", "these": the text at hand.
pub(super) const THIS: Mask = 1 << 47;
/// Words that open a message to someone: "note", "attention", "memo".
pub(super) const ADDRESS: Mask = 1 << 48;
pub(super) const IF: Mask = 1 << 49;
pub(super) const ARE: Mask = 1 << 50;
/// "to", "for": whom a message is for.
pub(super) const FOR_TO: Mask = 1 << 56;
/// "instead": a task replaced by another.
pub(super) const INSTEAD: Mask = 1 << 51;
/// Verbs that dictate what the model says: "write", "say", "state", "reply".
pub(super) const SAY: Mask = 1 << 52;
/// The tasks an application gives a model over a text: "summarise", "translate".
pub(super) const TASK_VERB: Mask = 1 << 53;
pub(super) const WHEN: Mask = 1 << 54;
/// Imperatives that steer what a model does with a text ("rank", "mention", "delete",
/// "approve"): everyday words, an instruction only beside words addressed to an AI.
pub(super) const DIRECTS: Mask = 1 << 55;
/// The person the application serves, named in the third person: "the user", "the
/// reader". Instructions about them come from someone else.
pub(super) const USER: Mask = 1 << 58;
/// Verbs of telling someone: "mention", "inform", "notify", "remark".
pub(super) const TELL: Mask = 1 << 59;
/// Licence words: "reproduce the above copyright notice" asks for no prompt.
pub(super) const LEGAL: Mask = 1 << 60;
/// Personal data a link could carry out: "phone", "address", "birthday".
pub(super) const PERSONAL: Mask = 1 << 57;

/// Words of each concept, already in normalised form (lower case, no diacritics).
const CONCEPTS: &[(Mask, &str)] = &[
    (
        IGNORE,
        "ignore ignoring disregard disregarding forget forgetting \
         overlook override overriding overrule bypass discard abandon neglect nevermind \
         dismiss skip drop erase unlearn scrap \
         ignora ignorar ignoren olvida olvidar olvides omite omitir descarta \
         ignoriere ignorieren ignoriert vergiss vergessen missachte missachten verwirf \
         ignorez oublie oubliez oublier dimentica dimenticare ignorare esqueca esquecer \
         ignorem игнорируй игнорировать забудь забудьте injoro injoroni shperfill \
         shperfillni harro harroni ziba zibe ignorera",
    ),
    (
        PRIOR,
        "previous previously prior above earlier preceding former original old initial before \
         aforementioned existing preexisting foregoing prior's past starting beginning first \
         anteriores anterior previas previo previos arriba vorherigen vorherige vorherigen \
         bisherigen bisherige obigen obige fruheren fruhere vorangegangenen precedentes \
         precedente precedent precedents cidessus anterieures precedenti sopra \
         предыдущие предыдущих прежние meparshme meparshem fillestare fillestar \
         dangaphambili roimhe tidigare",
    ),
    (
        INSTR,
        "instruction instructions instructed directions direction directive directives rule \
         rules guideline guidelines prompt prompts programming guardrails prompting preprompt \
         guidance initialization initialisation preamble \
         sysprompt systemprompt \
         instrucciones instruccion reglas indicaciones directrices normas anweisungen \
         anweisung regeln instruktionen befehle vorgaben richtlinien systemanweisungen \
         systemprompt consignes directives regles istruzioni regole instrucoes regras \
         инструкции инструкций правила указания промпт udhezime udhezimet udhezimi \
         imiyalelo imiyalo treoracha treoir stiuireadh stiuiridhean rregullat instruktioner",
    ),
    (ALL, "all any every everything todas todos toutes tous alle allen jede tutte tutti все"),
    (
        SYSTEM,
        "system systems initial hidden secret internal confidential original starting \
         underlying sistema systeme systems systemnachricht systemprompt sysprompt \
         systemprompt preprompt системный системные sistemit sistemi wesistimu sistimu \
         sistim",
    ),
    (
        REVEAL,
        "repeat reveal print show display output dump leak disclose recite echo paste expose \
         tell spill regurgitate reproduce divulge quote \
         muestra muestrame revela repite dime imprime ensename mostrar revelar repetir \
         zeig zeige zeigen gib wiederhole verrate nenne ausgeben affiche revele repete montre \
         donne dis afficher reveler mostra mostrami rivela ripeti mostre revele repita \
         покажи выведи повтори shfaq perserit zbulo namathisela phinda veza nochd \
         taispeain",
    ),
    (
        REVEAL_WEAK,
        "write give share provide list return type copy spell translate encode summarize \
         see read log printf cat console",
    ),
    (YOUR, "your yours you've ur tu tus tes ton ta vos dein deine deinen deiner ihre tuo tue tuoi seu sua seus suas твой твои свой свои ваш"),
    (MY, "my our mine nuestro mis mes mon meine unsere mio miei"),
    (WH, "what which whats que quel quelle quels was welche cosa qual"),
    (YOU, "you u"),
    (INSTR_WEAK, "command commands orders order constraints policies requests request"),
    (TIMES, "times"),
    (
        CITE,
        "says said saying typed typing types wrote writes quote quoted quotes phrase \
         phrases line sentence translate translation mean means meaning whispers whispered \
         shouts yells example containing contains sends includes including",
    ),
    (
        REPEAT,
        "repeat phinda perserit athdhean athaithris wiederhole repite repete ripeti repita \
         повтори herhaal powtorz tekrarla ulangi",
    ),
    (TOLD, "told instructed programmed given asked prompted configured"),
    (
        TEXTY,
        "text everything words content conversation contents message messages context \
         above said wrote written",
    ),
    (
        VERBATIM,
        "verbatim exactly full entire entirety complete word literally unchanged unaltered \
         palabra wortlaut mot",
    ),
    (
        NEG,
        "no without free unbound unrestricted beyond bypass ignore ignoring break broken \
         evade circumvent disable disabled remove removed lift lifted abandon escape regardless \
         exempt unlimited sin ohne sans senza sem без",
    ),
    (
        LIMIT,
        "restrictions restriction restricted filters filter filtering limitations limits limit \
         censorship censored guidelines rules ethics ethical morals moral morality boundaries \
         constraints policies policy safeguards guardrails restraints principles \
         considerations safety confines norms tos restricciones einschrankungen \
         restrictions limites regeln ограничений ограничения",
    ),
    (
        VOID,
        "void null cancelled canceled obsolete revoked invalid overridden superseded replaced \
         suspended deactivated nullified lifted",
    ),
    (STOP, "stop cease quit"),
    (FOLLOW, "follow following obey obeying adhere comply listen heed"),
    (NEGATOR, "never not dont don't no without nor cannot cant can't wont won't"),
    (
        REFUSE,
        "refuse refusal refusals refusing decline declining apologize apologise apologies \
         apology warn warning warnings disclaimer disclaimers moralize moralizing lecture \
         censor caution cautionary sorry",
    ),
    (MODE, "mode modus modo"),
    (
        DEVWORD,
        "developer dev debug debugging maintenance admin administrator god sudo root \
         unrestricted jailbreak jailbroken unfiltered uncensored opposite evil chaos dan \
         superuser diagnostic",
    ),
    (
        ENABLE,
        "enabled enable activated activate unlocked unlock entering enter switched switch \
         engaged engage initiated initiate on now",
    ),
    (
        SEND,
        "send sending post posting forward upload transmit exfiltrate submit email mail \
         fetch visit load render embed beacon",
    ),
    (URL, "http https url webhook endpoint webhooks"),
    (
        SECRET_DATA,
        "conversation history password passwords credentials secrets chat messages context \
         prompt instructions cookies cookie session emails contacts environ transcript \
         inbox wallet mnemonic",
    ),
    (
        UNBOUND,
        "unfiltered uncensored unrestricted amoral unethical immoral unbound unshackled \
         unchained unleashed limitless lawless boundless restrictionless",
    ),
    (
        NEW,
        "new updated different real actual true revised additional nuevas nuevo neue neuen \
         nouvelles nouveau nuove novas reja emisha nua ur",
    ),
    (
        SECRET_ID,
        "id identifier configuration config settings password passwords credentials secret \
         secrets key keys token memory context",
    ),
    (
        META,
        "mitigate mitigation mitigating mitigations defend defending defense defence defenses \
         defences detect detecting detection detector prevent preventing prevention protect \
         protecting vulnerable vulnerability owasp moderation classifier cliche novel \
         recognise recognize injection injections xss sanitize sanitise sanitizing escaping \
         dangerous attacker attackers awareness regression guardrail",
    ),
    (TASK, "task tasks job mission objective goal assignment directive instructions orders"),
    (
        DEVICE,
        "phone phones android iphone ipad ios windows chromebook chrome chromeos browser \
         firefox edge laptop pc mac macos tablet device devices settings xbox playstation \
         ps4 ps5 tv router samsung pixel huawei xiaomi kindle console app usb",
    ),
    (ABOVE, "above before earlier preceding previous prior sofar"),
    (
        AI_NOUN,
        "ai llm llms chatbot chatbots copilot chatgpt gpt claude gemini bot bots \
         summarizer summariser summarizers summarisers",
    ),
    (
        AI_WEAK,
        "assistant assistants agent agents model models system systems readers reader \
         tools tool crawler crawlers assistent \
         assistenten modell modelle modele modelo modello asistente assistente asisten \
         модель модели моделі ассистент ассистента асистент асистента",
    ),
    (
        AI_QUAL,
        "ai automated autonomous virtual coding language generative llm intelligent machine \
         browsing shopping ki ia \
         ии ші языковой языковая мовної мовна automatische automatico automatique \
         linguistique lenguaje linguaggio linguagem",
    ),
    (
        READS,
        "reading processing parsing summarizing summarising analyzing analysing indexing \
         crawling scanning ingesting evaluating screening ranking reviewing handling \
         drafting answering helping assisting liest verarbeitet lit traite lee \
         procesa legge elabora processa читает читающий обрабатывает membaca \
         reads processes parses summarizes summarises analyzes analyses ingests",
    ),
    (THIS, "this these"),
    (
        READS_MACHINE,
        "processing parsing summarizing summarising analyzing analysing indexing crawling \
         scanning ingesting screening ranking",
    ),
    (WHOEVER, "whoever whatever whichever"),
    (
        ADDRESS,
        "note notice attention memo reminder message psa meant intended addressed \
         hinweis notiz achtung nota atencion atencao avviso \
         attenzione opmerking uwaga примечание примітка увага внимание catatan perhatian \
         remarque avis",
    ),
    (
        AI_NOUN,
        "ki ia ии ші kunstliche sprachmodell sprachmodelle чатбот",
    ),
    (IF, "if"),
    (
        LEGAL,
        "copyright license licence licensed warranty warranties disclaimer trademark",
    ),
    (
        USER,
        "user users reader readers customer customers requester recipient",
    ),
    (
        TELL,
        "tell telling mention mentioning inform informing notify notifying remark \
         remarking reveal revealing disclose disclosing alert alerting ask asking show \
         showing flag flagging",
    ),
    (
        PERSONAL,
        "phone address addresses billing names birthday passport ssn iban salary",
    ),
    (FOR_TO, "to for fur an pour a para per voor dla для до untuk kepada"),
    (ARE, "are re youre"),
    (INSTEAD, "instead rather"),
    (
        SAY,
        "write say reply respond answer output state tell claim mention recommend \
         print describe conclude",
    ),
    (
        TASK_VERB,
        "summarize summarise summarizing summarising summary translate translating \
         answering analyze analyse analyzing analysing review reviewing process \
         processing classify rate rating responding replying",
    ),
    (WHEN, "when whenever while before after"),
    (
        DIRECTS,
        "mention raise flag cite disclose include add remove delete mark archive set rank \
         rate approve reject decline recommend use take treat report describe point call \
         run execute push open visit click copy paste upload grab put type submit leave \
         omit skip avoid insert append replace accept grant prefer praise",
    ),
];

/// Concept words of languages with fewer speakers online, where attack templates are
/// machine-translated to slip past English-only filters (Albanian, Zulu, Irish, Scottish
/// Gaelic), plus Dutch, Polish, Turkish and Indonesian basics.
const MORE_LANGUAGES: &[(Mask, &str)] = &[
    (
        INSTR,
        "kerkesen kerkeses kerkesa kerkesat umyalezo imiyalezo teachtaireacht \
         teachdaireachd instructies regels instrukcje polecenia zasady talimatlar talimatlari \
         kurallar instruksi aturan perintah",
    ),
    (
        SYSTEM,
        "coras chorais siostam siostaim systeem systemowy systemu sistem",
    ),
    (
        REVEAL,
        "phumela athdhean athaithris herhaal toon pokaz powtorz goster tekrarla tampilkan \
         ulangi",
    ),
    (REVEAL_WEAK, "roinn tairg"),
    (
        YOUR,
        "tende tenden tuaj wakho yakho lakho kwakho agad je jouw twoj twoje twojego senin \
         anda",
    ),
    (
        IGNORE,
        "negeer vergeet zignoruj zapomnij yoksay unut abaikan lupakan",
    ),
    (
        PRIOR,
        "thuas eerdere vorige poprzednie wczesniejsze onceki sebelumnya",
    ),
    (
        DEVWORD,
        "zhvillues yonjiniyela unjiniyela forbartha leasachaidh ontwikkelaar",
    ),
    (
        MODE,
        "modalitetin modaliteti kwimodi imodi mod modh modus tryb",
    ),
    (SECRET_ID, "aitheantais chumraiocht cumraiocht"),
    (WH, "cila"),
    (YOU, "thu tu"),
    (TEXTY, "faclan fhaclan"),
    (ABOVE, "thuas ard"),
];

/// Concept words of more languages (issue 16: short overrides written by hand in the
/// languages people use). Written as they are spelt; [`Lexicon::build`] folds each one
/// the way a text is folded. Words that are also English words ("visa", "tale", "din")
/// are left out.
pub(super) const WORLD_LANGUAGES: &[(Mask, &str)] = &[
    (
        IGNORE,
        "ігноруй ігноруйте ігнорувати забудь забудьте проигнорируй \
         ignoruj ignorujte zapomeň zapomeňte zabudni ignorați uită uitați \
         figyelmen felejtsd felejts αγνόησε αγνοήστε αγνόησέ ξέχασε ξεχάστε \
         glöm glem ignorer ohita unohda sivuuta pomiń görmezden unutun \
         balewalain kalimutan puuza sahau quên phớt lờ bỏ \
         تجاهل تجاهلي تجاهلوا انس انسى نادیده فراموش התעלם התעלמי שכח שכחי \
         अनदेखा नज़रअंदाज़ नजरअंदाज भूल भूलो",
    ),
    (
        PRIOR,
        "попередні попередніх попередній вище předchozí předchádzajúce dřívější \
         predchozi anterioare precedente korábbi előző fenti προηγούμενες προηγούμενων \
         προηγούμενο παραπάνω tidligere föregående forrige ovenstående aiemmat \
         aikaisemmat edelliset yllä wcześniejsze powyższe yukarıdaki öncekileri \
         nakaraang yaliyotangulia zilizopita awali trước السابقة السابق السابقه أعلاه \
         قبلی הקודמות הקודמים पिछले पिछली पिछला ऊपर",
    ),
    (
        INSTR,
        "інструкції інструкцій правила вказівки вказівок промпт підказку указания указаний \
         pokyny instrukce pravidla instrukcie instrucțiunile instrucțiuni regulile reguli \
         utasításokat utasítások utasítást utasításaidat szabályokat szabályok οδηγίες \
         οδηγιών κανόνες εντολές instruktionerna instruksjoner instruksjonene \
         instruktionerne regler reglerna reglene reglerne anvisningar ohjeet ohjeita \
         ohjeesi säännöt wytyczne talimatları talimatlarını kuralları komutları arahan \
         tagubilin maagizo maelekezo dẫn lệnh nhắc التعليمات تعليمات تعليماتك القواعد \
         الأوامر دستورالعمل دستورالعملها دستورالعملهای دستورات قوانین ההוראות הוראות הכללים הנחיות \
         निर्देश निर्देशों नियम नियमों",
    ),
    (
        SYSTEM,
        "системний системні системного системной системы systémový systémové systemove \
         sistemului rendszer rendszerüzenet rendszerprompt συστήματος järjestelmä \
         järjestelmäkehote systemmeddelande mfumo thống النظام سیستم המערכת सिस्टम",
    ),
    (
        REVEAL,
        "покажи виведи повтори розкажи розкрий раскрой напечатай zobraz ukaž vypiš \
         zopakuj prozraď arată afișează dezvăluie repetă mutasd ismételd fedd εμφάνισε \
         δείξε επανάλαβε αποκάλυψε upprepa avslöja gentag gjenta afslør näytä toista \
         paljasta tulosta wyświetl ujawnij yazdır tunjukkan ungkapkan cetak onyesha \
         rudia fichua hiển lộ lặp اعرض أظهر اظهر كرر اكشف نشان تکرار הצג חזור גלה \
         दिखाओ दिखाएं दिखाइए बताओ बताइए दोहराओ प्रकट",
    ),
    (
        YOUR,
        "твої твій свої свій ваші ваш tvoje tvé své svoje tvoj tău dina ditt dine \
         sinun swoje swój kamu yako zako bạn तुम्हारे तुम्हारी आपके अपने अपना",
    ),
    (
        ALL,
        "всі усі všechny všetky toate összes minden όλες όλα όλους alla kaikki wszystkie \
         tüm bütün semua seluruh lahat zote tất جميع كل همه כל सभी सारे",
    ),
    (
        TOLD,
        "dit dits dite données donné reçues reçu dicho dichas dadas recibidas gesagt \
         gegeben erhalten bekommen detto ricevute dadas recebidas \
         сказали сказано дали получил получила получены сказали казали дали отримав \
         gegeven gekregen powiedziano otrzymałeś verilen söylenen diberikan",
    ),
    (
        YOU,
        "te toi ti dir dich ты тебе тебя вам ти тобі тебе jij jou ci sana kamu",
    ),
    (
        VERBATIM,
        "palabra wort parola слово слова woord słowo kelime kata textuellement \
         textualmente testualmente wörtlich дословно дослівно letterlijk dosłownie aynen \
         integralmente intégralement",
    ),
    (
        ABOVE,
        "dessus oben arriba sopra acima выше вище boven powyżej yukarıdaki atas",
    ),
    (
        REVEAL,
        "recopie recopia copia kopiere kopier скопируй скопіюй kopieer skopiuj kopyala salin",
    ),
    (
        DIRECTS,
        "sag sage teile antworte antwortet schreib schreibe empfiehl erwähne füge verweise \
         réponds répondez écris écrivez recommande mentionne inclus indique ajoute \
         responde responda escribe escreva recomienda recomende menciona mencione incluye \
         inclua diga informe añade adicione rispondi scrivi raccomanda consiglia menziona \
         includi aggiungi zeg schrijf vermeld voeg powiedz odpowiedz napisz poleć \
         wspomnij dodaj скажи ответь напиши порекомендуй упомяни добавь сообщи \
         відповідай відповідь напиши порекомендуй згадуй згадай додай повідом постав \
         söyle cevap öner ekle katakan jawab tulis rekomendasikan sebutkan tambahkan \
         beritahu viết قل أجب اكتب اذكر أضف أخبر लिखो कहो जवाब",
    ),
    (
        SEND,
        "envoie envoyez transfère envía envíe envie invia stuur wyślij отправь перешли \
         надішли перешли gönder kirim أرسل भेजो",
    ),
    (
        USER,
        "nutzer benutzer nutzers utilisateur utilisateurs usuario usuarios usuário \
         utente utenti gebruiker użytkownik пользователь пользователю користувач \
         користувачеві kullanıcı pengguna المستخدم उपयोगकर्ता",
    ),
    (AI_NOUN, "एआई এআই"),
    (
        AI_WEAK,
        "للمساعد المساعد सहायक агента агенту агент агенти assistenter asistentes \
         assistentes assistenti agenten agentes agenti",
    ),
    (
        AI_QUAL,
        "الذكي الاصطناعي virtuale virtuel virtuelle virtuales virtuais automatisé \
         automatisés automatisée automatisées automatizado automatizados automatizada \
         automatizadas automatizzato automatizzati automatisierte automatisierten \
         automatisch automatiska automatiserade",
    ),
    // Imperatives that steer what is done, in the languages the fresh sets' e-mails
    // and documents came in (as DIRECTS above: only beside words addressed to an AI).
    (
        DIRECTS,
        "conferma chiudi approva segna elimina confirme confirmez ferme fermez \
         approuve approuvez joins joignez accepte acceptez supprime supprimez attribuez \
         confirma cierra aprueba adjunta acepta borra bestätige schließe genehmige lösche \
         akzeptiere feche aprove anexe aceite apague meddela skriv svara berätta \
         inkludera godkänn",
    ),
    (SEND, "skicka send"),
    (
        DEVWORD,
        "desarrollador desarrolladores développeur développeurs entwickler entwicklermodus \
         sviluppatore sviluppatori desenvolvedor desenvolvedores programista serwisowym \
         serwisowy geliştirici pengembang",
    ),
    (MODE, "modalità trybie modu mode"),
    (
        LIMIT,
        "filtros políticas normas límites restricciones filtres règles limites \
         einschränkungen filter beschränkungen filtri restrizioni regole limiti filtrar \
         restrições regras ograniczeń filtrów",
    ),
    (
        REVEAL_WEAK,
        "escribe escriba écris écrivez schreib schreibe scrivi escreva napisz dame donne \
         dammi",
    ),
    (
        NEG,
        "sin ni sans senza ohne sem bez keine kein keinen aucune aucun ningún ninguna \
         nessuna nessun nenhum nenhuma żadnych",
    ),
    (ADDRESS, "consigne"),
    (FOR_TO, "till"),
    (INSTR, "zasadach zasad instrukcji instrukcjami poleceń"),
    (ALL, "wszystkich wszystko"),
    (
        IGNORE_LAST,
        "görmezden yoksay unut unutun نادیده فراموش अनदेखा नज़रअंदाज़ नजरअंदाज भूल भूलो",
    ),
    (
        REVEAL_LAST,
        "göster yazdır tekrarla نشان تکرار दिखाओ दिखाएं दिखाइए बताओ बताइए दोहराओ",
    ),
    (
        NEW,
        "нові нове новые новая új νέες nya nye uudet yeni baru mới جديدة جديد",
    ),
];

/// Function words the segmenter needs to split glued text ("ignoreallthe…"); they belong
/// to no concept.
const GLUE: &str = "the a an and or to of in on at for is are was were be been this that these \
    those it its me us them from with as by now then please just only say do does did have has \
    had will would should can could must may might act pretend be being am i he she they we \
    they're mode role character anything tell say print answer respond reply ai assistant \
    chatbot model language user human here there so far up out youre youll im";

/// A word's concepts and the phrases that start with it.
#[derive(Default, Clone)]
pub(super) struct Entry {
    pub mask: Mask,
    /// Indexes into the phrase table whose first word this is.
    pub phrases: Vec<u16>,
}

/// FxHash (rustc's hasher): a multiply-rotate per 8 bytes, several times faster than
/// SipHash on short keys. Keys are our own words, so flooding is not a concern.
#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = chunk(c);
            h = (h.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(super) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Word -> concepts and phrase starts. Built once per compiled policy.
///
/// Looked up for every word of every text, so not a `HashMap<String, _>`: an
/// open-addressing table whose slots carry the key's hash and length and its first eight
/// bytes, so most lookups compare no bytes elsewhere, and words longer than any key are
/// not hashed at all.
#[derive(Clone)]
pub(super) struct Lexicon {
    keys: Vec<Box<str>>,
    entries: Vec<Entry>,
    slots: Vec<Slot>,
    max_len: usize,
    /// Per phrase of the table it was built from, the entry index of each word: phrases
    /// are matched by comparing indexes rather than bytes.
    phrase_words: Vec<Box<[u32]>>,
}

/// The index of a word that is not in the lexicon.
pub(super) const UNKNOWN: u32 = u32::MAX;

/// `index` is the key's index + 1; 0 marks an empty slot.
#[derive(Clone, Copy, Default)]
struct Slot {
    head: u64,
    tag: u32,
    index: u32,
}

/// A word's first eight bytes (zero-padded) and its tag: a hash of the whole word in the
/// high 24 bits, its length (at most 255) in the low 8. Words of at most eight bytes are
/// equal when both are; longer ones are also compared whole.
#[inline(always)]
fn key_head_tag(w: &[u8]) -> (u64, u32) {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    // Up to eight bytes, little-endian, zero-padded: in at most three loads.
    let load = |c: &[u8]| {
        if let Ok(a) = <[u8; 8]>::try_from(c) {
            return u64::from_le_bytes(a);
        }
        let (mut v, mut k) = (0u64, 0);
        if c.len() & 4 != 0 {
            v = u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
            k = 4;
        }
        if c.len() & 2 != 0 {
            v |= u64::from(u16::from_le_bytes([c[k], c[k + 1]])) << (8 * k);
            k += 2;
        }
        if c.len() & 1 != 0 {
            v |= u64::from(c[k]) << (8 * k);
        }
        v
    };
    let head = load(&w[..w.len().min(8)]);
    let mut h = head.wrapping_mul(K);
    if w.len() > 8 {
        let mut chunks = w[8..].chunks_exact(8);
        for c in &mut chunks {
            let v = chunk(c);
            h = (h.rotate_left(5) ^ v).wrapping_mul(K);
        }
        h = (h.rotate_left(5) ^ load(chunks.remainder())).wrapping_mul(K);
    }
    (head, ((h >> 32) as u32 & !0xff) | w.len().min(0xff) as u32)
}

/// A word as a text holding it is read: folded, then split into words. `None` when it
/// does not read as one word (a list entry that is a phrase, or no word at all).
pub(super) fn normal_form(w: &str) -> Option<String> {
    let folded = super::normalize::fold(w);
    let words = super::normalize::words(&folded.text, &|_| false);
    (words.len() == 1).then(|| String::from_utf8_lossy(words.bytes(0)).into_owned())
}

/// The concepts whose words are also read misspelt: the words of an override or an
/// extraction ("plz ignor ur prevous instrctions", "sytem prompt").
const MISSPELT: Mask = IGNORE | PRIOR | INSTR | SYSTEM | REVEAL;

/// One-letter deletions of those words that are real words of our benign corpora
/// ("forget" -> "forge", "starting" -> "stating"), so not read as the concept.
const REAL_WORDS: &[&str] = &[
    "exiting", "forge", "forme", "revel", "staring", "stating", "nlearn", "interna", "norma",
];

/// Adds every word of [`MISSPELT`] concepts of six letters or more with one letter
/// dropped (the commonest typo: "instrctions", "prevous", "ignor"), where that is not a
/// word of the lexicon or of [`REAL_WORDS`]; it carries only those concepts.
fn add_misspellings(words: &mut FxMap<String, Entry>) {
    let mut typos: Vec<(String, Mask)> = Vec::new();
    for (w, e) in words.iter() {
        let mask = e.mask & MISSPELT;
        if mask == 0 || !w.is_ascii() || w.len() < 6 {
            continue;
        }
        for k in 0..w.len() {
            let typo = format!("{}{}", &w[..k], &w[k + 1..]);
            if !words.contains_key(&typo) && !REAL_WORDS.contains(&typo.as_str()) {
                typos.push((typo, mask));
            }
        }
    }
    for (typo, mask) in typos {
        words.entry(typo).or_default().mask |= mask;
    }
}

impl Lexicon {
    /// Builds the lexicon; `phrases` are word sequences (already normalised) whose first
    /// word gets the phrase's index.
    pub fn build(phrases: &[(Vec<String>, super::Signal, f32)]) -> Lexicon {
        let mut words: FxMap<String, Entry> = FxMap::default();
        for (mask, list) in CONCEPTS {
            for w in list.split_whitespace() {
                words.entry(w.to_string()).or_default().mask |= mask;
            }
        }
        for (mask, list) in MORE_LANGUAGES {
            for w in list.split_whitespace() {
                words.entry(w.to_string()).or_default().mask |= mask;
            }
        }
        for (mask, list) in WORLD_LANGUAGES {
            for w in list.split_whitespace().filter_map(normal_form) {
                words.entry(w).or_default().mask |= mask;
            }
        }
        for w in GLUE.split_whitespace() {
            words.entry(w.to_string()).or_default();
        }
        // Disguised forms of the concept words, where they are not real words themselves.
        let plain: Vec<String> = words
            .iter()
            .filter(|(w, e)| e.mask != 0 && w.is_ascii() && w.len() >= 3)
            .map(|(w, _)| w.clone())
            .collect();
        for w in plain {
            let rot: String = w.chars().map(rot13).collect();
            if !words.contains_key(&rot) {
                words.entry(rot).or_default().mask |= ROT13;
            }
            let rev: String = w.chars().rev().collect();
            if w.len() >= 4 && !words.contains_key(&rev) {
                words.entry(rev).or_default().mask |= REVERSED;
            }
        }
        add_misspellings(&mut words);
        for (i, (p, _, _)) in phrases.iter().enumerate() {
            for (k, w) in p.iter().enumerate() {
                let e = words.entry(w.clone()).or_default();
                if k == 0 {
                    e.phrases.push(i as u16);
                }
            }
        }
        let size = (words.len() * 2).next_power_of_two().max(16);
        let mut lex = Lexicon {
            keys: Vec::with_capacity(words.len()),
            entries: Vec::with_capacity(words.len()),
            slots: vec![Slot::default(); size],
            max_len: 0,
            phrase_words: Vec::new(),
        };
        for (w, e) in words {
            let (head, tag) = key_head_tag(w.as_bytes());
            let mut at = (tag >> 8) as usize & (size - 1);
            while lex.slots[at].index != 0 {
                at = (at + 1) & (size - 1);
            }
            lex.max_len = lex.max_len.max(w.len());
            lex.keys.push(w.into_boxed_str());
            lex.entries.push(e);
            lex.slots[at] = Slot {
                head,
                tag,
                index: lex.keys.len() as u32,
            };
        }
        // Every phrase word is a key; `UNKNOWN - 1` would never match a text word.
        lex.phrase_words = phrases
            .iter()
            .map(|(p, _, _)| {
                p.iter()
                    .map(|w| lex.index(w.as_bytes()).unwrap_or(UNKNOWN - 1))
                    .collect()
            })
            .collect();
        lex
    }

    pub fn entry(&self, index: u32) -> &Entry {
        &self.entries[index as usize]
    }

    /// How many words the lexicon holds (entry indexes are `0..len`).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The word of entry `index`.
    pub fn word(&self, index: u32) -> &str {
        &self.keys[index as usize]
    }

    /// The entry index of each word of phrase `p`.
    pub fn phrase_words(&self, p: u16) -> &[u32] {
        &self.phrase_words[p as usize]
    }

    /// The entry index of word `b`.
    #[inline]
    pub fn index(&self, b: &[u8]) -> Option<u32> {
        if b.len() > self.max_len {
            return None;
        }
        let (head, tag) = key_head_tag(b);
        let mask = self.slots.len() - 1;
        let mut at = (tag >> 8) as usize & mask;
        loop {
            let s = self.slots[at];
            if s.index == 0 {
                return None;
            }
            if s.tag == tag
                && s.head == head
                && (b.len() <= 8 || self.keys[s.index as usize - 1].as_bytes() == b)
            {
                return Some(s.index - 1);
            }
            at = (at + 1) & mask;
        }
    }

    pub fn knows(&self, w: &str) -> bool {
        self.index(w.as_bytes()).is_some()
    }
}

pub(super) fn rot13(c: char) -> char {
    match c {
        'a'..='m' | 'A'..='M' => (c as u8 + 13) as char,
        'n'..='z' | 'N'..='Z' => (c as u8 - 13) as char,
        _ => c,
    }
}
