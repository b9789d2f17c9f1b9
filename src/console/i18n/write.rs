//! The block and unblock forms' words (`console/write.rs`) and what they report.

use super::Tr;

texts!(
    Write
    block,
    block_another,
    expires_at,
    expires_hint,
    scope_hint,
    not_yet_visible,
    unblock_reason,
    unblock_confirm,
    already_removed,
    err_expires_format,
    err_unblock_reason,
    err_unblock_confirm,
);

pub(super) const EN: Write = Write {
    block: "Block",
    block_another: "Block another number",
    expires_at: "Expires at (UTC)",
    expires_hint: "Leave empty to block for good. Times are in UTC.",
    scope_hint: "Without client and campaign the number is blocked for every call.",
    not_yet_visible: "Stored. This server is still refreshing its data, so checks may show the change within a few seconds.",
    unblock_reason: "Reason for unblocking (required, kept in the audit log)",
    unblock_confirm: "I confirm: this number may be called again in this scope.",
    already_removed: "This entry has already been removed.",
    err_expires_format: "The expiry time could not be read. Use the date and time picker (UTC).",
    err_unblock_reason: "A reason is required to unblock a number.",
    err_unblock_confirm: "Tick the confirmation to unblock the number.",
};

pub(super) const PL: Write = Write {
    block: "Zablokuj",
    block_another: "Zablokuj kolejny numer",
    expires_at: "Wygasa (UTC)",
    expires_hint: "Zostaw puste, aby blokować bezterminowo. Czas w UTC.",
    scope_hint: "Bez klienta i kampanii numer jest zablokowany dla każdego połączenia.",
    not_yet_visible:
        "Zapisano. Serwer wciąż odświeża dane, więc sprawdzenia pokażą zmianę w ciągu kilku sekund.",
    unblock_reason: "Powód odblokowania (wymagany, trafia do dziennika zmian)",
    unblock_confirm: "Potwierdzam: pod ten numer znów wolno dzwonić w tym zakresie.",
    already_removed: "Ten wpis został już usunięty.",
    err_expires_format: "Nie udało się odczytać czasu wygaśnięcia. Wybierz datę i godzinę (UTC).",
    err_unblock_reason: "Odblokowanie numeru wymaga podania powodu.",
    err_unblock_confirm: "Zaznacz potwierdzenie, aby odblokować numer.",
};

impl Tr {
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
}
