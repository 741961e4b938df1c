//! A single-page query UI: an expression box, instant table or range graph, and a targets list.
//! Plain HTML and JavaScript served from the binary, talking only to the public API.

use axum::response::Html;

pub async fn index() -> Html<&'static str> {
    Html(include_str!("ui/index.html"))
}
