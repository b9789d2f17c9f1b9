//! Numbers read exactly, end to end: what libphonenumber rejects is not answered
//! `allowed`, and what it accepts can be blocked (README, "Checks").

use axum::http::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn digits_that_only_start_like_a_number_are_refused_not_allowed() {
    let app = TestApp::spawn().await;
    // Polish numbers starting 30 are 30 + 5 digits: nine digits are no number.
    for bad in [
        "300094417",
        "+48 300 094 417",
        "48300094417",
        "+86 10 1234 5678 2",
    ] {
        let r = app.check(bad).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["code"], "invalid_number", "{bad}");
    }
    assert!(app.allowed("3000944").await);
}

#[tokio::test]
async fn toll_free_numbers_that_start_with_the_national_prefix_can_be_blocked() {
    let app = TestApp::spawn().await;
    for (typed, e164, other_spelling) in [
        ("+7 800 123-45-67", "+78001234567", "+7 (800) 1234567"),
        ("+375 800 123 4567", "+3758001234567", "00375 800 1234567"),
        ("+370 800 12345", "+37080012345", "+370 (800) 12 345"),
    ] {
        let entry = app.block(typed).await;
        assert_eq!(entry["number"], e164, "{typed}");
        let r = app.check(other_spelling).await;
        assert_eq!(r.status, StatusCode::OK, "{other_spelling}: {}", r.body);
        assert_eq!(r.body["number"], e164);
        assert_eq!(r.body["allowed"], false, "{other_spelling}");
    }
}

#[tokio::test]
async fn a_number_copied_with_invisible_direction_marks_hits_its_entry() {
    let app = TestApp::spawn().await;
    app.block("601 234 567").await;
    for copied in [
        "\u{200E}+48 601 234 567",
        "\u{2066}+48 601 234 567\u{2069}",
        "601\u{200F}234\u{200F}567",
    ] {
        assert!(!app.allowed(copied).await, "{copied:?}");
    }
}
