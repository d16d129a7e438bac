//! Shapes of the user's existing config files, for the round-trip properties: missing, empty,
//! commented, with tables, symlinked, CRLF, no final newline.

use proptest::prelude::*;

use super::Fixture;

#[derive(Debug, Clone)]
pub enum Shape {
    Missing,
    Content(&'static str),
    Symlinked(&'static str),
}

pub fn shell() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Missing),
        Just(Shape::Content("")),
        Just(Shape::Content("# my rc\nexport A=1\n")),
        Just(Shape::Content("alias x=y")),
        Just(Shape::Content("a=1\r\nb=2\r\n")),
        Just(Shape::Content(
            "# >>> headroom persistent env >>>\nexport OLD=1\n# <<< headroom persistent env <<<\n"
        )),
        Just(Shape::Symlinked("export FROM_DOTFILES=1\n")),
    ]
}

pub fn json() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Missing),
        Just(Shape::Content("")),
        Just(Shape::Content("{}")),
        Just(Shape::Content(
            "{\n  // comment\n  \"env\": {\"X\": \"1\"},\n}\n"
        )),
        Just(Shape::Content(
            "{\r\n  \"a\": [1, 2],\r\n  \"env\": {}\r\n}\r\n"
        )),
        Just(Shape::Content(
            "{\"env\":{\"ANTHROPIC_BASE_URL\":\"https://gw\"},\"z\":null}"
        )),
        Just(Shape::Content(
            "{\n\t\"provider\": {\n\t\t\"other\": {}\n\t}\n}\n"
        )),
        Just(Shape::Symlinked("{\n  \"model\": \"opus\"\n}\n")),
    ]
}

pub fn toml() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Missing),
        Just(Shape::Content("")),
        Just(Shape::Content(
            "# codex\nmodel = \"o3\"\n\n[features]\nweb = true\n"
        )),
        Just(Shape::Content(
            "model_provider = \"openai\"\r\n[model_providers.openai]\r\nname = \"x\"\r\n"
        )),
        Just(Shape::Content("[profiles.a]\nmodel = \"x\"")),
        Just(Shape::Symlinked("approval_policy = \"never\"\n")),
    ]
}

pub fn place(fx: &Fixture, rel: &str, shape: &Shape, n: usize) {
    match shape {
        Shape::Missing => {}
        Shape::Content(c) => {
            fx.write(rel, c);
        }
        Shape::Symlinked(c) => {
            let target = fx.write(&format!("dotfiles/f{n}"), c);
            let link = fx.home.join(rel);
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, &link).unwrap();
            #[cfg(windows)]
            std::os::windows::fs::symlink_file(&target, &link).unwrap();
        }
    }
}
