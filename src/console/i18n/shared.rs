//! The words every page shares (the layout, signing in, the errors, those several pages
//! use) and [`Tr`], one language's words: these and each page's own.

use super::{audit, keys, list, lookup, overview, registries, write};
use crate::domain::Role;

texts!(
    /// One language's words: the shared ones here, each page's in its own file.
    Tr {
        code: &'static str,
        lookup: lookup::Lookup,
        overview: overview::Overview,
        list: list::List,
        write: write::Write,
        keys: keys::Keys,
        audit: audit::Audit,
        registries: registries::Registries,
    }
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
    client_word,
    campaign_word,
    reason,
    source,
    registry,
    source_time,
    fresh_until,
    unblock,
    scope,
    state,
    any,
    filter,
    clear,
    pages,
    newest,
    older,
    expires_col,
    actions,
    no_events,
    when,
    rows,
    rejected,
    entries,
    name,
    role,
    no_imports,
    err_timeout,
    err_form,
    err_cross_site,
    err_csrf,
    err_db_session,
    err_not_ready,
    err_bad_key,
    err_internal,
    err_date_format,
);

pub static EN: Tr = Tr {
    code: "en",
    lookup: lookup::EN,
    overview: overview::EN,
    list: list::EN,
    write: write::EN,
    keys: keys::EN,
    audit: audit::EN,
    registries: registries::EN,
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
    client_word: "client",
    campaign_word: "campaign",
    reason: "Reason",
    source: "Source",
    registry: "Registry",
    source_time: "Data from",
    fresh_until: "Fresh until",
    unblock: "Unblock",
    scope: "Scope",
    state: "State",
    any: "Any",
    filter: "Filter",
    clear: "Clear",
    pages: "Pages",
    newest: "← Newest",
    older: "Older →",
    expires_col: "Expires",
    actions: "Actions",
    no_events: "No events match.",
    when: "When",
    rows: "Rows",
    rejected: "Rejected",
    entries: "Entries",
    name: "Name",
    role: "Role",
    no_imports: "No imports yet.",
    err_timeout: "The server took too long to answer. If you were making a change, look it up before trying again.",
    err_form: "The form could not be read. Reload the page and try again.",
    err_cross_site: "Refused: this request did not come from a page of this console (a cross-site request). Nothing was changed.",
    err_csrf: "Refused: the form has expired or does not belong to your session. Reload the page and try again. Nothing was changed.",
    err_db_session: "tarcza cannot reach its database right now, so it cannot check your session. The dialer's checks go on from memory. Try again in a minute.",
    err_not_ready: "tarcza is still loading its data. Try again in a moment.",
    err_bad_key: "That API key is not known or has been revoked.",
    err_internal: "Something went wrong inside tarcza; it has been logged. Try again, and tell the administrator if it persists.",
    err_date_format: "A date could not be read. Use the date picker.",
};

pub static PL: Tr = Tr {
    code: "pl",
    lookup: lookup::PL,
    overview: overview::PL,
    list: list::PL,
    write: write::PL,
    keys: keys::PL,
    audit: audit::PL,
    registries: registries::PL,
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
    client_word: "klient",
    campaign_word: "kampania",
    reason: "Powód",
    source: "Źródło",
    registry: "Rejestr",
    source_time: "Dane z",
    fresh_until: "Aktualne do",
    unblock: "Odblokuj",
    scope: "Zakres",
    state: "Stan",
    any: "Dowolny",
    filter: "Filtruj",
    clear: "Wyczyść",
    pages: "Strony",
    newest: "← Najnowsze",
    older: "Starsze →",
    expires_col: "Wygasa",
    actions: "Działania",
    no_events: "Brak pasujących zdarzeń.",
    when: "Kiedy",
    rows: "Wiersze",
    rejected: "Odrzucone",
    entries: "Wpisy",
    name: "Nazwa",
    role: "Rola",
    no_imports: "Jeszcze nie było importów.",
    err_timeout: "Serwer zbyt długo nie odpowiadał. Jeśli wprowadzano zmianę, sprawdź ją przed ponowieniem.",
    err_form: "Nie udało się odczytać formularza. Odśwież stronę i spróbuj ponownie.",
    err_cross_site: "Odrzucono: to żądanie nie pochodzi ze strony tej konsoli (żądanie z innej witryny). Nic nie zmieniono.",
    err_csrf: "Odrzucono: formularz wygasł albo nie należy do tej sesji. Odśwież stronę i spróbuj ponownie. Nic nie zmieniono.",
    err_db_session: "tarcza nie ma teraz połączenia z bazą danych, więc nie może sprawdzić sesji. Sprawdzenia dialera działają dalej z pamięci. Spróbuj za minutę.",
    err_not_ready: "tarcza wciąż wczytuje dane. Spróbuj za chwilę.",
    err_bad_key: "Ten klucz API jest nieznany albo unieważniony.",
    err_internal: "Wewnątrz tarczy wystąpił błąd; został zapisany w logu. Spróbuj ponownie, a jeśli się powtarza, zgłoś to administratorowi.",
    err_date_format: "Nie udało się odczytać daty. Użyj wyboru daty.",
};

impl Tr {
    pub(super) fn pl(&self) -> bool {
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
            "invalid_binding" => (
                "Only a dialer or an agent key can be bound to a client, and campaigns or global entries need a client.",
                "Z klientem można powiązać tylko klucz dialer lub agent, a kampanie i wpisy globalne wymagają podania klienta.",
            ),
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
        assert_eq!(PL.lookup.allowed, "Można dzwonić");
    }
}
