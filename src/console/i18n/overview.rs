//! The overview's words (`console/overview.rs`): readiness, the data, the charts.

use super::Tr;

texts!(
    Overview
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
);

pub(super) const EN: Overview = Overview {
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
};

pub(super) const PL: Overview = Overview {
    registries_freshness: "Aktualność rejestrów",
    entries_word: "wpisów",
    checks_chart: "Sprawdzenia i blokady, ostatnie 24 godziny",
    checks_chart_desc:
        "Sprawdzone numery i numery zablokowane przez listę oraz przez rejestry, co pół godziny.",
    checks_chart_note:
        "Liczone przez ten proces serwera od jego startu; inne repliki liczą własne.",
    size_chart: "Wielkość rejestru po importach",
    size_chart_desc: "Liczba wpisów po każdym udanym imporcie.",
    series_checks: "Sprawdzone",
    series_dnc: "Zablokowane przez listę",
    series_registry: "Zablokowane przez rejestr",
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
};

impl Tr {
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
