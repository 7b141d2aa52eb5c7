//! `upgrade_paths!`: one `#[test]` per version of a project's changelogs but the newest.

use std::path::Path;

use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote};
use syn::LitStr;

use crate::project::{self, Project};
use crate::{Args, manifest_dir, path_expr, shared_calls};

/// The tests `upgrade_paths!(args)` writes (see the macro's docs).
pub(crate) fn expand_upgrade_paths(args: Args) -> syn::Result<Tokens> {
    let config = args
        .config
        .clone()
        .unwrap_or_else(|| LitStr::new(".pum.yaml", Span::call_site()));
    let config_path = manifest_dir().join(config.value());
    if !config_path.is_file() {
        return Err(syn::Error::new(
            config.span(),
            format!(
                "{} does not exist (paths are relative to CARGO_MANIFEST_DIR)",
                config.value()
            ),
        ));
    }
    let project = Project::read(&config_path).map_err(|e| syn::Error::new(config.span(), e))?;
    let dir = config_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(project.changelogs());
    let mut versions = project::versions(&dir).map_err(|e| {
        syn::Error::new(
            config.span(),
            format!(
                "cannot read the changelogs directory {}: {e}",
                dir.display()
            ),
        )
    })?;
    versions.pop();
    // Rebuilt when a file changes (a version added needs the build script above).
    let mut tracked = vec![config_path.clone()];
    for version in &versions {
        tracked.extend(project::files_in(&dir.join(version)));
    }
    let tracked = tracked.iter().map(|p| p.display().to_string());
    let mut spec = quote! { ::pum::testing::TestSpec::new(__pum_name) };
    let path = path_expr(&config);
    spec.extend(quote! { .config(#path) });
    spec.extend(shared_calls(&args));
    let git_tag = match &args.git_tag {
        Some(tag) => quote! { ::core::option::Option::Some(#tag) },
        None => quote! { ::core::option::Option::None },
    };
    let lint = args
        .lint
        .clone()
        .unwrap_or_else(|| syn::Ident::new("Off", Span::call_site()));
    let tests = versions.iter().map(|version| {
        let name = format_ident!("upgrade_from_{}", version.replace('.', "_"));
        quote! {
            #[test]
            fn #name() {
                let __pum_name = ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name));
                ::pum::testing::upgrade_path(#spec, #version, #git_tag, ::pum::testing::Lint::#lint);
            }
        }
    });
    Ok(quote! {
        #( const _: &[u8] = ::core::include_bytes!(#tracked); )*
        #(#tests)*
    })
}
