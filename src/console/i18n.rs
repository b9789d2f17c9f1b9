//! The console's words in English (the default) and Polish, chosen with the language
//! switch (a cookie). Every text is a field, so a missing translation does not compile.
//! The API's own error details stay in English; the sentence above them is translated.

use axum::http::HeaderMap;

use crate::domain::Role;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    En,
    Pl,
}

impl Lang {
    pub fn of(headers: &HeaderMap) -> Lang {
        match super::cookies::get(headers, super::cookies::LANG) {
            Some("pl") => Lang::Pl,
            _ => Lang::En,
        }
    }

    pub fn tr(self) -> &'static Tr {
        match self {
            Lang::En => &EN,
            Lang::Pl => &PL,
        }
    }

    pub fn code(self) -> &'static str {
        self.tr().code
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Pl,
            Lang::Pl => Lang::En,
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Pl => "Polski",
        }
    }
}

macro_rules! texts {
    ($($field:ident),* $(,)?) => {
        pub struct Tr { pub code: &'static str, $(pub $field: &'static str,)* }
    };
}

texts!(
    tagline,
    skip_to_content,
    nav_label,
    nav_overview,
    nav_lookup,
    nav_block,
    nav_list,
    nav_registries,
    nav_audit,
    nav_keys,
    sign_in,
    sign_out,
    api_key,
    sign_in_hint,
    ended_idle,
    ended_revoked,
    ended_signed_out,
    problem,
    back_to_console,
    detail,
    number,
    client,
    campaign,
    check,
    allowed,
    blocked,
    do_not_call,
    no_verdict,
    checked_for,
    any_client,
    client_word,
    campaign_word,
    warning,
    why_blocked,
    dnc_entry,
    reason,
    added_by,
    expires,
    source,
    registry,
    source_time,
    fresh_until,
    block_this_number,
    entries_of_number,
    no_entries,
    history,
    block,
    block_another,
    expires_at,
    expires_hint,
    scope_hint,
    not_yet_visible,
    unblock,
    unblock_reason,
    unblock_confirm,
    already_removed,
    scope,
    state,
    any,
    scope_global,
    scope_client,
    scope_campaign,
    scope_global_long,
    state_active,
    state_expired,
    state_removed,
    added_from,
    added_to,
    filter,
    clear,
    export_csv,
    no_matching_entries,
    pages,
    newest,
    older,
    added,
    expires_col,
    removed,
    actions,
    action,
    actor,
    actor_hint,
    from_utc,
    to_utc,
    no_events,
    when,
    details,
    system,
    rows,
    rejected,
    entries,
    error,
    name,
    role,
    create_key,
    all_keys,
    created,
    this_key,
    key_live,
    key_revoked,
    revoke,
    copy,
    copied,
    key_shown_once,
    no_data,
    stale,
    fresh,
    uploads_only,
    loaded_at,
    when_stale,
    policy_warn,
    policy_block,
    last_imports,
    no_imports,
    status,
    upload,
    file,
    mode,
    mode_snapshot,
    mode_delta,
    format,
    format_sha256,
    encoding,
    upload_button,
    upload_needs_js,
    sending,
    file_sent,
    of,
    upload_failed,
    import_word,
    unchanged,
    import_live,
    accepted,
    duplicates,
    upload_force,
    force_hint,
    first_rejects,
    line,
    content,
    waiting_for_server,
    rows_so_far,
    bytes_so_far,
    registries_freshness,
    entries_word,
    checks_chart,
    checks_chart_desc,
    checks_chart_note,
    size_chart,
    size_chart_desc,
    series_checks,
    series_dnc,
    series_registry,
    prefix,
    kind,
    kind_number,
    kind_prefix,
    starting_with,
    no_consent,
    exempted,
    consent,
    purpose,
    until,
    readiness,
    ready,
    degraded,
    stale_snapshot,
    not_ready,
    snapshot_version,
    snapshot_loaded,
    snapshot_lag,
    dnc_numbers,
    database,
    database_ok,
    database_down,
    err_timeout,
    err_form,
    err_cross_site,
    err_csrf,
    err_db_session,
    err_not_ready,
    err_bad_key,
    err_internal,
    err_expires_format,
    err_unblock_reason,
    err_unblock_confirm,
    err_date_format,
    roles_hint,
    mode_hint,
);

pub static EN: Tr = Tr {
    code: "en",
    tagline: "May this number be dialled? The do-not-call list and the opt-out registries.",
    skip_to_content: "Skip to content",
    nav_label: "Console",
    nav_overview: "Overview",
    nav_lookup: "Lookup",
    nav_block: "Block a number",
    nav_list: "Do-not-call list",
    nav_registries: "Registries",
    nav_audit: "Audit",
    nav_keys: "Keys",
    sign_in: "Sign in",
    sign_out: "Sign out",
    api_key: "API key",
    sign_in_hint: "Use the API key you were given. The console shows what your key's role may do.",
    ended_idle: "Your session has ended: it was not used for a while. Sign in again.",
    ended_revoked: "Your session has ended: your API key has been revoked or replaced.",
    ended_signed_out: "You have signed out.",
    problem: "Problem",
    back_to_console: "Back to the console",
    detail: "Details",
    number: "Number",
    client: "Client",
    campaign: "Campaign",
    check: "Check",
    allowed: "May be called",
    blocked: "Do not call",
    do_not_call: "Do not call",
    no_verdict: "tarcza cannot vouch for any number right now; the dialer does not call.",
    checked_for: "Checked for",
    any_client: "a call without client or campaign",
    client_word: "client",
    campaign_word: "campaign",
    warning: "Warning",
    why_blocked: "Why",
    dnc_entry: "Do-not-call entry",
    reason: "Reason",
    added_by: "added by",
    expires: "expires",
    source: "Source",
    registry: "Registry",
    source_time: "Data from",
    fresh_until: "Fresh until",
    block_this_number: "Block this number",
    entries_of_number: "Entries for this number",
    no_entries: "This number has no do-not-call entries.",
    history: "History",
    block: "Block",
    block_another: "Block another number",
    expires_at: "Expires at (UTC)",
    expires_hint: "Leave empty to block for good. Times are in UTC.",
    scope_hint: "Without client and campaign the number is blocked for every call.",
    not_yet_visible: "Stored. This server is still refreshing its data, so checks may show the change within a few seconds.",
    unblock: "Unblock",
    unblock_reason: "Reason for unblocking (required, kept in the audit log)",
    unblock_confirm: "I confirm: this number may be called again in this scope.",
    already_removed: "This entry has already been removed.",
    scope: "Scope",
    state: "State",
    any: "Any",
    scope_global: "Global",
    scope_client: "Client",
    scope_campaign: "Campaign",
    scope_global_long: "global (every call)",
    state_active: "Active",
    state_expired: "Expired",
    state_removed: "Removed",
    added_from: "Added from (date, UTC)",
    added_to: "Added until (date, UTC)",
    filter: "Filter",
    clear: "Clear",
    export_csv: "Export as CSV",
    no_matching_entries: "No entries match.",
    pages: "Pages",
    newest: "← Newest",
    older: "Older →",
    added: "Added",
    expires_col: "Expires",
    removed: "Removed",
    actions: "Actions",
    action: "Action",
    actor: "Actor",
    actor_hint: "A key's name, or its number.",
    from_utc: "From (UTC)",
    to_utc: "To (UTC)",
    no_events: "No events match.",
    when: "When",
    details: "Details",
    system: "tarcza itself",
    rows: "Rows",
    rejected: "Rejected",
    entries: "Entries",
    error: "Error",
    name: "Name",
    role: "Role",
    create_key: "Create a key",
    all_keys: "All keys",
    created: "Created",
    this_key: "this session",
    key_live: "Live",
    key_revoked: "Revoked",
    revoke: "Revoke",
    copy: "Copy",
    copied: "Copied",
    key_shown_once: "Store it now: it is shown only this once and cannot be recovered.",
    no_data: "No data",
    stale: "Stale",
    fresh: "Fresh",
    uploads_only: "uploads only",
    loaded_at: "Loaded",
    when_stale: "When stale",
    policy_warn: "checks go on with a warning",
    policy_block: "checks stop (do not call)",
    last_imports: "Last imports",
    no_imports: "No imports yet.",
    status: "Status",
    upload: "Upload a registry file",
    file: "File",
    mode: "Mode",
    mode_snapshot: "Snapshot",
    mode_delta: "Delta",
    mode_hint: "Snapshot: the file is the whole registry (a snapshot that would remove more than the allowed share of the entries, 5% by default, is refused unless forced). Delta: the file adds and removes numbers (an op column).",
    roles_hint: "dialer: checks only · agent: also blocks numbers and reads the list · ops: also registries · admin: also unblocks, keys and the audit log.",
    format: "Format",
    format_sha256: "SHA-256 hashes",
    encoding: "Encoding",
    upload_button: "Upload",
    upload_needs_js: "Uploading from this page needs JavaScript; use the API with curl otherwise.",
    sending: "Sending the file",
    file_sent: "File sent; the server is importing it",
    of: "of",
    upload_failed: "The upload failed: the connection to the server was lost. Nothing was changed by a file that did not arrive whole.",
    import_word: "Import",
    unchanged: "This file is the one already live: nothing changed.",
    import_live: "The new data is live: checks answer from it now.",
    accepted: "Accepted",
    duplicates: "Repeated numbers",
    upload_force: "Upload again with force",
    force_hint: "Force only if the registry really shrank: a truncated file must not unblock people.",
    first_rejects: "First rejected rows",
    line: "Line",
    content: "Content",
    waiting_for_server: "Waiting for the server to start the import…",
    rows_so_far: "rows read so far",
    bytes_so_far: "bytes read so far",
    registries_freshness: "Registry freshness",
    entries_word: "entries",
    checks_chart: "Checks and blocks, last 24 hours",
    checks_chart_desc: "Numbers checked and numbers blocked by the do-not-call list and by registries, per half hour.",
    checks_chart_note: "Counted by this server process since it started; other replicas count their own.",
    size_chart: "Registry size over its imports",
    size_chart_desc: "Entries after each successful import.",
    series_checks: "Checked",
    series_dnc: "Blocked by the do-not-call list",
    series_registry: "Blocked by a registry",
    prefix: "Prefix",
    kind: "Kind",
    kind_number: "Numbers",
    kind_prefix: "Prefixes (ranges)",
    starting_with: "every number starting with",
    no_consent: "No consent",
    exempted: "Not blocking: exempted by a consent",
    consent: "Consent",
    purpose: "purpose",
    until: "until",
    readiness: "Readiness",
    ready: "Ready",
    degraded: "Degraded",
    stale_snapshot: "Stale data",
    not_ready: "Not ready",
    snapshot_version: "Data version",
    snapshot_loaded: "Data loaded",
    snapshot_lag: "Confirmed current",
    dnc_numbers: "Numbers on the do-not-call list",
    database: "Database",
    database_ok: "reachable",
    database_down: "unreachable:",
    err_timeout: "The server took too long to answer. If you were making a change, look it up before trying again.",
    err_form: "The form could not be read. Reload the page and try again.",
    err_cross_site: "Refused: this request did not come from a page of this console (a cross-site request). Nothing was changed.",
    err_csrf: "Refused: the form has expired or does not belong to your session. Reload the page and try again. Nothing was changed.",
    err_db_session: "tarcza cannot reach its database right now, so it cannot check your session. The dialer's checks go on from memory. Try again in a minute.",
    err_not_ready: "tarcza is still loading its data. Try again in a moment.",
    err_bad_key: "That API key is not known or has been revoked.",
    err_internal: "Something went wrong inside tarcza; it has been logged. Try again, and tell the administrator if it persists.",
    err_expires_format: "The expiry time could not be read. Use the date and time picker (UTC).",
    err_unblock_reason: "A reason is required to unblock a number.",
    err_unblock_confirm: "Tick the confirmation to unblock the number.",
    err_date_format: "A date could not be read. Use the date picker.",
};

pub static PL: Tr = Tr {
    code: "pl",
    tagline: "Czy wolno zadzwonić pod ten numer? Lista zastrzeżeń i rejestry sprzeciwu.",
    skip_to_content: "Przejdź do treści",
    nav_label: "Konsola",
    nav_overview: "Przegląd",
    nav_lookup: "Sprawdź numer",
    nav_block: "Zablokuj numer",
    nav_list: "Lista zastrzeżeń",
    nav_registries: "Rejestry",
    nav_audit: "Dziennik zmian",
    nav_keys: "Klucze",
    sign_in: "Zaloguj się",
    sign_out: "Wyloguj się",
    api_key: "Klucz API",
    sign_in_hint: "Użyj otrzymanego klucza API. Konsola pokazuje to, na co pozwala rola klucza.",
    ended_idle: "Sesja wygasła z powodu bezczynności. Zaloguj się ponownie.",
    ended_revoked: "Sesja została zakończona: klucz API unieważniono lub zastąpiono.",
    ended_signed_out: "Wylogowano.",
    problem: "Problem",
    back_to_console: "Wróć do konsoli",
    detail: "Szczegóły",
    number: "Numer",
    client: "Klient",
    campaign: "Kampania",
    check: "Sprawdź",
    allowed: "Można dzwonić",
    blocked: "Nie dzwonić",
    do_not_call: "Nie dzwonić",
    no_verdict: "tarcza nie może teraz potwierdzić żadnego numeru; dialer nie dzwoni.",
    checked_for: "Sprawdzono dla",
    any_client: "połączenia bez klienta i kampanii",
    client_word: "klient",
    campaign_word: "kampania",
    warning: "Ostrzeżenie",
    why_blocked: "Dlaczego",
    dnc_entry: "Wpis na liście",
    reason: "Powód",
    added_by: "dodał(a)",
    expires: "wygasa",
    source: "Źródło",
    registry: "Rejestr",
    source_time: "Dane z",
    fresh_until: "Aktualne do",
    block_this_number: "Zablokuj ten numer",
    entries_of_number: "Wpisy tego numeru",
    no_entries: "Ten numer nie ma wpisów na liście.",
    history: "Historia",
    block: "Zablokuj",
    block_another: "Zablokuj kolejny numer",
    expires_at: "Wygasa (UTC)",
    expires_hint: "Zostaw puste, aby blokować bezterminowo. Czas w UTC.",
    scope_hint: "Bez klienta i kampanii numer jest zablokowany dla każdego połączenia.",
    not_yet_visible: "Zapisano. Serwer wciąż odświeża dane, więc sprawdzenia pokażą zmianę w ciągu kilku sekund.",
    unblock: "Odblokuj",
    unblock_reason: "Powód odblokowania (wymagany, trafia do dziennika zmian)",
    unblock_confirm: "Potwierdzam: pod ten numer znów wolno dzwonić w tym zakresie.",
    already_removed: "Ten wpis został już usunięty.",
    scope: "Zakres",
    state: "Stan",
    any: "Dowolny",
    scope_global: "Globalny",
    scope_client: "Klient",
    scope_campaign: "Kampania",
    scope_global_long: "globalny (każde połączenie)",
    state_active: "Aktywny",
    state_expired: "Wygasły",
    state_removed: "Usunięty",
    added_from: "Dodane od (data, UTC)",
    added_to: "Dodane do (data, UTC)",
    filter: "Filtruj",
    clear: "Wyczyść",
    export_csv: "Eksportuj do CSV",
    no_matching_entries: "Brak pasujących wpisów.",
    pages: "Strony",
    newest: "← Najnowsze",
    older: "Starsze →",
    added: "Dodano",
    expires_col: "Wygasa",
    removed: "Usunięto",
    actions: "Działania",
    action: "Zdarzenie",
    actor: "Kto",
    actor_hint: "Nazwa klucza albo jego numer.",
    from_utc: "Od (UTC)",
    to_utc: "Do (UTC)",
    no_events: "Brak pasujących zdarzeń.",
    when: "Kiedy",
    details: "Szczegóły",
    system: "sama tarcza",
    rows: "Wiersze",
    rejected: "Odrzucone",
    entries: "Wpisy",
    error: "Błąd",
    name: "Nazwa",
    role: "Rola",
    create_key: "Utwórz klucz",
    all_keys: "Wszystkie klucze",
    created: "Utworzono",
    this_key: "ta sesja",
    key_live: "Aktywny",
    key_revoked: "Unieważniony",
    revoke: "Unieważnij",
    copy: "Kopiuj",
    copied: "Skopiowano",
    key_shown_once: "Zapisz go teraz: jest pokazywany tylko raz i nie da się go odzyskać.",
    no_data: "Brak danych",
    stale: "Nieaktualny",
    fresh: "Aktualny",
    uploads_only: "tylko przesyłane pliki",
    loaded_at: "Wczytano",
    when_stale: "Gdy nieaktualny",
    policy_warn: "sprawdzenia działają z ostrzeżeniem",
    policy_block: "sprawdzenia stają (nie dzwonić)",
    last_imports: "Ostatnie importy",
    no_imports: "Jeszcze nie było importów.",
    status: "Status",
    upload: "Prześlij plik rejestru",
    file: "Plik",
    mode: "Tryb",
    mode_snapshot: "Pełny stan",
    mode_delta: "Zmiany",
    mode_hint: "Pełny stan: plik to cały rejestr (plik, który usunąłby więcej wpisów, niż wolno (domyślnie 5%), jest odrzucany, chyba że wymusisz). Zmiany: plik dopisuje i usuwa numery (kolumna op).",
    roles_hint: "dialer: tylko sprawdzanie · agent: także blokuje numery i czyta listę · ops: także rejestry · admin: także odblokowuje, klucze i dziennik zmian.",
    format: "Format",
    format_sha256: "Skróty SHA-256",
    encoding: "Kodowanie",
    upload_button: "Prześlij",
    upload_needs_js: "Przesyłanie z tej strony wymaga JavaScriptu; w przeciwnym razie użyj API przez curl.",
    sending: "Wysyłanie pliku",
    file_sent: "Plik wysłany; serwer go importuje",
    of: "z",
    upload_failed: "Przesyłanie nie powiodło się: utracono połączenie z serwerem. Niepełny plik niczego nie zmienił.",
    import_word: "Import",
    unchanged: "Ten plik jest już wczytany: nic się nie zmieniło.",
    import_live: "Nowe dane działają: sprawdzenia już z nich korzystają.",
    accepted: "Przyjęte",
    duplicates: "Powtórzone numery",
    upload_force: "Prześlij ponownie z wymuszeniem",
    force_hint: "Wymuszaj tylko, gdy rejestr naprawdę się zmniejszył: ucięty plik nie może nikogo odblokować.",
    first_rejects: "Pierwsze odrzucone wiersze",
    line: "Wiersz",
    content: "Treść",
    waiting_for_server: "Czekam, aż serwer rozpocznie import…",
    rows_so_far: "przeczytane wiersze",
    bytes_so_far: "przeczytane bajty",
    registries_freshness: "Aktualność rejestrów",
    entries_word: "wpisów",
    checks_chart: "Sprawdzenia i blokady, ostatnie 24 godziny",
    checks_chart_desc: "Sprawdzone numery i numery zablokowane przez listę oraz przez rejestry, co pół godziny.",
    checks_chart_note: "Liczone przez ten proces serwera od jego startu; inne repliki liczą własne.",
    size_chart: "Wielkość rejestru po importach",
    size_chart_desc: "Liczba wpisów po każdym udanym imporcie.",
    series_checks: "Sprawdzone",
    series_dnc: "Zablokowane przez listę",
    series_registry: "Zablokowane przez rejestr",
    prefix: "Prefiks",
    kind: "Rodzaj",
    kind_number: "Numery",
    kind_prefix: "Prefiksy (zakresy)",
    starting_with: "każdy numer zaczynający się od",
    no_consent: "Brak zgody",
    exempted: "Nie blokuje: zwolnienie na podstawie zgody",
    consent: "Zgoda",
    purpose: "cel",
    until: "do",
    readiness: "Gotowość",
    ready: "Gotowy",
    degraded: "Ograniczony",
    stale_snapshot: "Nieaktualne dane",
    not_ready: "Niegotowy",
    snapshot_version: "Wersja danych",
    snapshot_loaded: "Dane wczytano",
    snapshot_lag: "Potwierdzono aktualność",
    dnc_numbers: "Numery na liście",
    database: "Baza danych",
    database_ok: "dostępna",
    database_down: "niedostępna:",
    err_timeout: "Serwer zbyt długo nie odpowiadał. Jeśli wprowadzano zmianę, sprawdź ją przed ponowieniem.",
    err_form: "Nie udało się odczytać formularza. Odśwież stronę i spróbuj ponownie.",
    err_cross_site: "Odrzucono: to żądanie nie pochodzi ze strony tej konsoli (żądanie z innej witryny). Nic nie zmieniono.",
    err_csrf: "Odrzucono: formularz wygasł albo nie należy do tej sesji. Odśwież stronę i spróbuj ponownie. Nic nie zmieniono.",
    err_db_session: "tarcza nie ma teraz połączenia z bazą danych, więc nie może sprawdzić sesji. Sprawdzenia dialera działają dalej z pamięci. Spróbuj za minutę.",
    err_not_ready: "tarcza wciąż wczytuje dane. Spróbuj za chwilę.",
    err_bad_key: "Ten klucz API jest nieznany albo unieważniony.",
    err_internal: "Wewnątrz tarczy wystąpił błąd; został zapisany w logu. Spróbuj ponownie, a jeśli się powtarza, zgłoś to administratorowi.",
    err_expires_format: "Nie udało się odczytać czasu wygaśnięcia. Wybierz datę i godzinę (UTC).",
    err_unblock_reason: "Odblokowanie numeru wymaga podania powodu.",
    err_unblock_confirm: "Zaznacz potwierdzenie, aby odblokować numer.",
    err_date_format: "Nie udało się odczytać daty. Użyj wyboru daty.",
};

impl Tr {
    fn pl(&self) -> bool {
        self.code == "pl"
    }

    /// A plain sentence for an API error code.
    pub fn failure(&self, code: &str) -> &'static str {
        let (en, pl) = match code {
            "invalid_number" | "missing_number" => (
                "That is not a phone number tarcza can read. Check the digits and the country code.",
                "To nie jest numer telefonu, który tarcza potrafi odczytać. Sprawdź cyfry i kod kraju.",
            ),
            "invalid_scope" => (
                "The client or campaign name is not valid.",
                "Nazwa klienta lub kampanii jest nieprawidłowa.",
            ),
            "stale_registry" => (
                "A registry's data is older than allowed, so no number may be called until it is refreshed.",
                "Dane rejestru są starsze, niż wolno, więc do czasu ich odświeżenia nie wolno dzwonić pod żaden numer.",
            ),
            "stale_snapshot" => (
                "This server could not keep its data current, so it gives no answers until it catches up.",
                "Ten serwer nie nadąża z aktualizacją danych, więc nie odpowiada, dopóki ich nie odświeży.",
            ),
            "not_ready" => (
                "tarcza has not loaded its data yet (or a registry's first sync has not finished).",
                "tarcza jeszcze nie wczytała danych (albo pierwsza synchronizacja rejestru się nie zakończyła).",
            ),
            "database_unavailable" => (
                "The database cannot be reached, so the change was not made. Try again in a minute.",
                "Brak połączenia z bazą danych, więc zmiany nie wprowadzono. Spróbuj za minutę.",
            ),
            "forbidden" => (
                "Your key's role may not do this.",
                "Rola Twojego klucza na to nie pozwala.",
            ),
            "unauthorized" => (
                "Your key is no longer valid. Sign in again.",
                "Twój klucz nie jest już ważny. Zaloguj się ponownie.",
            ),
            "request_timeout" => (
                "The request took too long; nothing was changed. Try again.",
                "Żądanie trwało zbyt długo; nic nie zmieniono. Spróbuj ponownie.",
            ),
            "outcome_unknown" => (
                "The request took too long while the change was being saved: it may have been made. Look it up before repeating it.",
                "Żądanie trwało zbyt długo w trakcie zapisu: zmiana mogła zostać wprowadzona. Sprawdź to przed ponowieniem.",
            ),
            "already_inactive" => (
                "This entry has already been removed.",
                "Ten wpis został już usunięty.",
            ),
            "missing_reason" => (
                "A reason is required.",
                "Wymagany jest powód.",
            ),
            "invalid_expires_at" => (
                "The expiry time must be in the future.",
                "Czas wygaśnięcia musi być w przyszłości.",
            ),
            "import_in_progress" => (
                "An import into this registry is already running. Wait for it to finish.",
                "Do tego rejestru trwa już import. Poczekaj, aż się zakończy.",
            ),
            "not_found" | "unknown_registry" => (
                "Not found.",
                "Nie znaleziono.",
            ),
            "invalid_name" => (
                "The name must be 1 to 200 characters of printable text.",
                "Nazwa musi mieć od 1 do 200 znaków drukowalnych.",
            ),
            "invalid_role" => ("Choose a role.", "Wybierz rolę."),
            "already_revoked" => (
                "This key has already been revoked.",
                "Ten klucz został już unieważniony.",
            ),
            "body_too_large" => (
                "The file is larger than this server accepts.",
                "Plik jest większy, niż przyjmuje ten serwer.",
            ),
            "internal_error" => (
                "Something went wrong inside tarcza; it has been logged.",
                "Wewnątrz tarczy wystąpił błąd; został zapisany w logu.",
            ),
            _ => (
                "The request was refused.",
                "Żądanie zostało odrzucone.",
            ),
        };
        if self.pl() {
            pl
        } else {
            en
        }
    }

    pub fn role_cannot(&self, role: Role, needed: Role) -> String {
        if self.pl() {
            format!("Klucz z rolą {role} nie ma dostępu do tej strony: potrzebna jest rola {needed} lub wyższa.")
        } else {
            format!("A key with the {role} role cannot use this page: it needs the {needed} role or higher.")
        }
    }

    pub fn action_label(&self, action: &str) -> &'static str {
        let (en, pl) = match action {
            "dnc.*" => ("Do-not-call list (all)", "Lista (wszystko)"),
            "dnc.add" => ("Blocked", "Zablokowano"),
            "dnc.extend" => ("Block extended", "Przedłużono blokadę"),
            "dnc.remove" => ("Unblocked", "Odblokowano"),
            "dnc.merge" => ("Entries merged", "Scalono wpisy"),
            "import.*" => ("Imports (all)", "Importy (wszystko)"),
            "import.start" => ("Import started", "Rozpoczęto import"),
            "import.succeeded" => ("Import succeeded", "Import udany"),
            "import.unchanged" => ("Import: no change", "Import bez zmian"),
            "import.refused" => ("Import refused", "Import odrzucony"),
            "import.failed" => ("Import failed", "Import nieudany"),
            "key.*" => ("Keys (all)", "Klucze (wszystko)"),
            "key.create" => ("Key created", "Utworzono klucz"),
            "key.revoke" => ("Key revoked", "Unieważniono klucz"),
            "key.bootstrap" => ("Bootstrap key set", "Ustawiono klucz startowy"),
            "console.*" => ("Console sign-ins (all)", "Logowania do konsoli (wszystko)"),
            "console.sign_in" => ("Signed in", "Zalogowano"),
            "console.sign_out" => ("Signed out", "Wylogowano"),
            "consent.add" => ("Consent recorded", "Zapisano zgodę"),
            "consent.withdraw" => ("Consent withdrawn", "Wycofano zgodę"),
            "consent.import" => ("Consents loaded in bulk", "Wczytano zgody hurtowo"),
            "policy.set" => ("Policy set", "Ustawiono zasady"),
            "policy.remove" => ("Policy removed", "Usunięto zasady"),
            _ => ("Other", "Inne"),
        };
        if self.pl() {
            pl
        } else {
            en
        }
    }

    pub fn blocked_new(&self, number: &str, id: i64) -> String {
        if self.pl() {
            format!("Zablokowano {number} (wpis #{id}).")
        } else {
            format!("Blocked {number} (entry #{id}).")
        }
    }

    pub fn blocked_existing(&self, number: &str, id: i64) -> String {
        if self.pl() {
            format!("{number} był już zablokowany w tym zakresie (wpis #{id}); blokada trwa co najmniej tak długo, jak podano.")
        } else {
            format!("{number} was already blocked in this scope (entry #{id}); the block lasts at least as long as asked.")
        }
    }

    pub fn unblocked(&self, number: &str, id: i64) -> String {
        if self.pl() {
            format!("Usunięto wpis #{id} numeru {number}. Powód zapisano w dzienniku zmian.")
        } else {
            format!("Removed entry #{id} of {number}. The reason is in the audit log.")
        }
    }

    pub fn key_created(&self, name: &str, role: &str) -> String {
        if self.pl() {
            format!("Utworzono klucz „{name}” (rola {role}):")
        } else {
            format!("Created the key “{name}” (role {role}):")
        }
    }

    pub fn key_revoked_msg(&self, name: &str) -> String {
        if self.pl() {
            format!("Unieważniono klucz „{name}”; jego sesje zakończyły się.")
        } else {
            format!("Revoked the key “{name}”; its sessions have ended.")
        }
    }

    pub fn revoke_confirm(&self, name: &str) -> String {
        if self.pl() {
            format!("Unieważnić klucz „{name}”? Przestanie działać od razu.")
        } else {
            format!("Revoke the key “{name}”? It stops working at once.")
        }
    }

    pub fn stale_explained(&self, warn: bool) -> &'static str {
        match (warn, self.pl()) {
            (false, false) => "The data is older than its maximum age: no number may be called until a fresh file is loaded.",
            (true, false) => "The data is older than its maximum age: checks carry a warning until a fresh file is loaded.",
            (false, true) => "Dane są starsze niż dopuszczalny wiek: do wczytania świeżego pliku nie wolno dzwonić pod żaden numer.",
            (true, true) => "Dane są starsze niż dopuszczalny wiek: sprawdzenia niosą ostrzeżenie do wczytania świeżego pliku.",
        }
    }

    pub fn import_status(&self, status: &str) -> &'static str {
        let (en, pl) = match status {
            "succeeded" => ("succeeded", "udany"),
            "failed" => ("failed", "nieudany"),
            "refused" => ("refused", "odrzucony"),
            "running" => ("running", "w toku"),
            "pending" => ("pending", "oczekuje"),
            _ => ("unknown", "nieznany"),
        };
        if self.pl() {
            pl
        } else {
            en
        }
    }

    pub fn import_refused_why(&self, status: &str) -> &'static str {
        match (status == "refused", self.pl()) {
            (true, false) => "The import was refused and changed nothing:",
            (false, false) => "The import failed and changed nothing:",
            (true, true) => "Import odrzucono; niczego nie zmienił:",
            (false, true) => "Import się nie powiódł; niczego nie zmienił:",
        }
    }

    pub fn more_rejects(&self, total: u64) -> String {
        if self.pl() {
            format!("Wszystkich odrzuconych wierszy: {total}. Pełna lista jest w API importu.")
        } else {
            format!("{total} rows were rejected in all; the import's API record lists them.")
        }
    }

    pub fn import_running(&self, id: i64, since: &str) -> String {
        if self.pl() {
            format!("Import #{id} trwa na serwerze (od {since})")
        } else {
            format!("Import #{id} is running on the server (since {since})")
        }
    }

    pub fn readiness_explained(&self, status: &str) -> &'static str {
        match (status, self.pl()) {
            ("degraded", false) => "The database cannot be reached: checks are answered from memory; changes are refused.",
            ("degraded", true) => "Brak połączenia z bazą: sprawdzenia idą z pamięci; zmiany są odrzucane.",
            ("stale_snapshot", false) => "This process could not keep its data current: checks answer 503 (do not call) until it catches up.",
            ("stale_snapshot", true) => "Ten proces nie nadąża z aktualizacją danych: sprawdzenia odpowiadają 503 (nie dzwonić), dopóki ich nie odświeży.",
            (_, false) => "The data is not loaded yet: checks answer 503 (do not call).",
            (_, true) => "Dane nie są jeszcze wczytane: sprawdzenia odpowiadają 503 (nie dzwonić).",
        }
    }

    pub fn checks_summary(&self, checks: u64, blocked: u64, dnc: u64, registry: u64) -> String {
        if self.pl() {
            format!("W ciągu ostatnich 24 godzin: {checks} sprawdzeń, {blocked} zablokowanych ({dnc} przez listę, {registry} przez rejestry).")
        } else {
            format!("In the last 24 hours: {checks} checks, {blocked} blocked ({dnc} by the do-not-call list, {registry} by registries).")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_say_every_error_plainly() {
        for code in [
            "invalid_number",
            "stale_registry",
            "database_unavailable",
            "forbidden",
        ] {
            assert_ne!(EN.failure(code), PL.failure(code), "{code}");
            assert_ne!(EN.failure(code), EN.failure("something_else"), "{code}");
        }
        assert_eq!(PL.allowed, "Można dzwonić");
    }
}
