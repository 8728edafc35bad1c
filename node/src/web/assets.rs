//! The stylesheet and the script, embedded in the binary: the pages load
//! nothing from outside the node. They are served `no-cache`, so a page of
//! an upgraded node never runs with an old copy.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The stylesheet.
const STYLE: &str = include_str!("assets/app.css");
/// The script.
const SCRIPT: &str = include_str!("assets/app.js");
/// Where the pages link the stylesheet.
pub const STYLE_PATH: &str = "/assets/app.css";
/// Where the pages load the script from.
pub const SCRIPT_PATH: &str = "/assets/app.js";

/// Serves an embedded asset.
pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "app.css" => (STYLE, "text/css; charset=utf-8"),
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
