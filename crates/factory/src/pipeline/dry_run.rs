//! What `plan` takes of a build without running one: the checks a build
//! makes of its flags before it starts, and the recipe it would render.

use super::*;

/// Refuses what a build would refuse of `flags` before it starts (package
/// options that contradict each other, a bad `--publish`, `--from` or
/// `--trust`); nothing runs.
pub fn check_flags(settings: &Settings, flags: &BuildFlags) -> Result<()> {
    Publishing::check(flags, &settings.lxc()).map(drop)
}

/// The recipe a build of `options` renders (`plan --output`).
pub fn render_recipe(settings: &Settings, options: &BuildOptions) -> Result<Rendered> {
    let start = Start::of(settings, options)?;
    start.templates.render(&recipe_context(
        options,
        &start.settings,
        start.toolchain,
        &start.publishing,
    ))
}

/// What a run of `options` starts from, read and checked before it leaves
/// anything behind: the templates, the request's toolchain, the settings
/// on that toolchain, and the checked publishing flags.
pub(super) struct Start {
    pub(super) templates: Templates,
    pub(super) toolchain: Option<crate::toolchain::Toolchain>,
    pub(super) settings: Settings,
    pub(super) publishing: Publishing,
}

impl Start {
    pub(super) fn of(settings: &Settings, options: &BuildOptions) -> Result<Start> {
        let templates = Templates::load(settings.templates_dir.as_deref())?;
        // A toolchain brings its own build and verify images.
        let toolchain = templates.toolchain_of(&options.request)?;
        let settings = settings.with_toolchain(toolchain.as_ref())?;
        let publishing = Publishing::check(&options.flags, &settings.lxc())?;
        Ok(Start {
            templates,
            toolchain,
            settings,
            publishing,
        })
    }
}

/// The templates' context of a build: its request, flags and toolchain.
pub(super) fn recipe_context(
    options: &BuildOptions,
    settings: &Settings,
    toolchain: Option<crate::toolchain::Toolchain>,
    publishing: &Publishing,
) -> RecipeContext {
    RecipeContext::new(&options.request, settings, options.flags.offline)
        .with_toolchain(toolchain)
        .with_install_from(publishing.install_from())
        .with_module_layout(options.flags.package.modules)
}
