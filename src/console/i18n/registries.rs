//! The registries page's words (`console/registries.rs`): freshness, imports, the upload.

use super::Tr;

texts!(
    Registries
    no_data,
    stale,
    fresh,
    uploads_only,
    loaded_at,
    when_stale,
    policy_warn,
    policy_block,
    last_imports,
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
    mode_hint,
);

pub(super) const EN: Registries = Registries {
    no_data: "No data",
    stale: "Stale",
    fresh: "Fresh",
    uploads_only: "uploads only",
    loaded_at: "Loaded",
    when_stale: "When stale",
    policy_warn: "checks go on with a warning",
    policy_block: "checks stop (do not call)",
    last_imports: "Last imports",
    status: "Status",
    upload: "Upload a registry file",
    file: "File",
    mode: "Mode",
    mode_snapshot: "Snapshot",
    mode_delta: "Delta",
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
    mode_hint: "Snapshot: the file is the whole registry (a snapshot that would remove more than the allowed share of the entries, 5% by default, is refused unless forced). Delta: the file adds and removes numbers (an op column).",
};

pub(super) const PL: Registries = Registries {
    no_data: "Brak danych",
    stale: "Nieaktualny",
    fresh: "Aktualny",
    uploads_only: "tylko przesyłane pliki",
    loaded_at: "Wczytano",
    when_stale: "Gdy nieaktualny",
    policy_warn: "sprawdzenia działają z ostrzeżeniem",
    policy_block: "sprawdzenia stają (nie dzwonić)",
    last_imports: "Ostatnie importy",
    status: "Status",
    upload: "Prześlij plik rejestru",
    file: "Plik",
    mode: "Tryb",
    mode_snapshot: "Pełny stan",
    mode_delta: "Zmiany",
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
    mode_hint: "Pełny stan: plik to cały rejestr (plik, który usunąłby więcej wpisów, niż wolno (domyślnie 5%), jest odrzucany, chyba że wymusisz). Zmiany: plik dopisuje i usuwa numery (kolumna op).",
};

impl Tr {
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
}
