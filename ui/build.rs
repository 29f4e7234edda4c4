//! Compiles the screens with the translations bundled from `lang/<language>/LC_MESSAGES/ui.po`.

fn main() {
    #[cfg(feature = "screens")]
    screens();
}

#[cfg(feature = "screens")]
fn screens() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations(concat!(env!("CARGO_MANIFEST_DIR"), "/lang"))
        .embed_resources(slint_build::EmbedResourcesKind::EmbedFiles)
        // Our .po files carry no msgctxt: one string, one translation, wherever it appears.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        // Element ids and type names in the generated code, for the fit test to tell a list's
        // rows from the screen's own buttons (a few kilobytes of names).
        .with_debug_info(true);
    if let Err(e) = slint_build::compile_with_config("screens/kiosk.slint", config) {
        eprintln!("the kiosk screens did not compile: {e}");
        std::process::exit(1);
    }
}
