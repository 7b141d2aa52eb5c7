//! Procedural macros for [`pum`](https://crates.io/crates/pum).
//!
//! This crate is re-exported by `pum`; depend on `pum` and write `#[pum::pum_test]`. The
//! attribute only reads its arguments, checks that the files they name exist, and emits a
//! call to `pum::testing::run`; all the work happens there.

use std::path::{Path, PathBuf};

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{ToTokens, format_ident, quote};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Lit, LitStr, Pat, Type};

mod embed;
mod paths;
mod project;

use project::is_version;

/// Gives a test its own database, cloned from a cached, migrated template, and drops it
/// afterwards.
///
/// ```text
/// #[pum::pum_test]                        // .pum.yaml in CARGO_MANIFEST_DIR, if there is one
/// fn orders_have_defaults(db: pum::testing::TestDb) {
///     db.client().batch_execute("INSERT INTO shop.orders DEFAULT VALUES").unwrap();
/// }
///
/// #[pum::pum_test(base = "tests/dumps/v1.0.dump", parameters(SRID = 2056),
///                 reference = "tests/reference/full_install.sql")]
/// fn upgrade_from_1_0_equals_fresh_install(db: pum::testing::TestDb) {
///     pum::assert_schema_eq!(db, db.reference());
/// }
/// ```
///
/// Arguments (paths are relative to `CARGO_MANIFEST_DIR`; a missing one is a compile error):
/// - `config = "path/.pum.yaml"` or `changelogs = "dir"` (a directory holding a
///   `.pum.yaml`): the changelogs to migrate with;
/// - `base = "file.sql" | "file.dump" | "db:NAME"`: what to start from (default: empty);
/// - `fixtures("a.sql", "b.sql")`: SQL run after the changelogs;
/// - `parameters(NAME = value, …)`, `max_version = "1.2.0"`;
/// - `reference = "file.sql" | "file.dump" | "db:NAME" | "install" | "install:1.2.0"`;
/// - `ignore(privileges, comments, …)`, `exclude_schemas("audit", …)`: left out of
///   `check_against`;
/// - `isolation = "database"` (the default: a database of the test's own, dropped
///   afterwards) or `isolation = "transaction"`: the body runs in one session
///   (`db.session()`) inside a transaction rolled back at the end, on a database shared
///   by the tests of its template, one per parallel slot; much faster, for tests that
///   neither commit nor need a second session (see `pum::testing::Isolation`).
///
/// The function takes a `TestDb` (any name) and returns `()` or `Result<(), E>`. Other
/// parameters (rstest's `#[case]`) are kept: put `#[rstest]` on the function and each case
/// gets its own database (`#[rstest]` written above `#[pum_test]` is a compile error saying
/// so). An `async fn` runs on a tokio runtime (pum's `tokio` feature); `#[tokio::test]` is
/// not needed, and refused. `#[should_panic]`, above or below, expects the body's panic: a
/// failure to set the test up is printed and fails the test instead (`run_should_panic`).
#[proc_macro_attribute]
pub fn pum_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| args.parse(meta));
    if let Err(e) = syn::parse::Parser::parse(parser, attr) {
        return e.to_compile_error().into();
    }
    let function = syn::parse_macro_input!(item as ItemFn);
    match expand(args, function) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

const KINDS: &[(&str, &str)] = &[
    ("schemas", "Schemas"),
    ("tables", "Tables"),
    ("columns", "Columns"),
    ("constraints", "Constraints"),
    ("views", "Views"),
    ("sequences", "Sequences"),
    ("indexes", "Indexes"),
    ("triggers", "Triggers"),
    ("functions", "Functions"),
    ("rules", "Rules"),
    ("extensions", "Extensions"),
    ("enums", "Enums"),
    ("domains", "Domains"),
    ("composite_types", "CompositeTypes"),
    ("policies", "Policies"),
    ("privileges", "Privileges"),
    ("comments", "Comments"),
    ("owners", "Owners"),
];

#[derive(Default)]
pub(crate) struct Args {
    config: Option<LitStr>,
    base: Option<LitStr>,
    fixtures: Vec<LitStr>,
    parameters: Vec<(String, String)>,
    max_version: Option<LitStr>,
    reference: Option<LitStr>,
    ignore: Vec<syn::Ident>,
    exclude_schemas: Vec<LitStr>,
    git_tag: Option<LitStr>,
    /// `#[pum_test(isolation = "database" | "transaction")]`: the variant of
    /// `pum::testing::Isolation`, at the string's span.
    isolation: Option<syn::Ident>,
    /// `upgrade_paths!(lint = "deny" | "warn" | "off")`.
    lint: Option<syn::Ident>,
    /// Parsing `upgrade_paths!` (not `#[pum_test]`).
    paths: bool,
}

pub(crate) fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
}

/// Checks that `lit` names an existing path (relative to the manifest directory).
fn existing(lit: &LitStr) -> syn::Result<PathBuf> {
    let path = manifest_dir().join(lit.value());
    if path.exists() {
        Ok(path)
    } else {
        Err(syn::Error::new(
            lit.span(),
            format!(
                "{} does not exist (paths are relative to CARGO_MANIFEST_DIR)",
                lit.value()
            ),
        ))
    }
}

impl Args {
    fn parse(&mut self, meta: syn::meta::ParseNestedMeta) -> syn::Result<()> {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let only_tests = ["base", "fixtures", "max_version", "reference", "isolation"];
        if (self.paths && only_tests.contains(&key.as_str()))
            || (!self.paths && (key == "git_tag" || key == "lint"))
        {
            return Err(meta.error(self.unknown()));
        }
        match key.as_str() {
            "config" => {
                let lit: LitStr = meta.value()?.parse()?;
                existing(&lit)?;
                self.config = Some(lit);
            }
            "changelogs" => self.config = Some(changelogs_config(meta.value()?.parse()?)?),
            "base" => {
                let lit: LitStr = meta.value()?.parse()?;
                if !lit.value().starts_with("db:") {
                    existing(&lit)?;
                }
                self.base = Some(lit);
            }
            "fixtures" => {
                for file in string_list(&meta)? {
                    existing(&file)?;
                    self.fixtures.push(file);
                }
            }
            "parameters" => meta.parse_nested_meta(|param| {
                self.parameters.push(parameter(param)?);
                Ok(())
            })?,
            "max_version" => {
                let lit: LitStr = meta.value()?.parse()?;
                if !is_version(&lit.value()) {
                    return Err(syn::Error::new(
                        lit.span(),
                        "max_version is a version such as \"1.2.0\"",
                    ));
                }
                self.max_version = Some(lit);
            }
            "reference" => self.reference = Some(reference(meta.value()?.parse()?)?),
            "ignore" => meta.parse_nested_meta(|kind| {
                self.ignore.push(ignored_kind(kind)?);
                Ok(())
            })?,
            "exclude_schemas" => self.exclude_schemas.extend(string_list(&meta)?),
            "git_tag" => {
                let lit: LitStr = meta.value()?.parse()?;
                if !lit.value().contains("{version}") {
                    return Err(syn::Error::new(
                        lit.span(),
                        "git_tag is a pattern holding {version}, such as \"v{version}\"",
                    ));
                }
                self.git_tag = Some(lit);
            }
            "lint" => self.lint = Some(lint_level(meta.value()?.parse()?)?),
            "isolation" => self.isolation = Some(isolation(meta.value()?.parse()?)?),
            _ => return Err(meta.error(self.unknown())),
        }
        Ok(())
    }

    fn unknown(&self) -> &'static str {
        if self.paths {
            "unknown upgrade_paths! argument (expected config, changelogs, parameters, ignore, \
             exclude_schemas, git_tag or lint)"
        } else {
            "unknown pum_test argument (expected config, changelogs, base, fixtures, \
             parameters, max_version, reference, ignore, exclude_schemas or isolation)"
        }
    }
}

/// `changelogs = "dir"`: the `.pum.yaml` the directory (or file) holds, relative to the
/// manifest directory when under it.
fn changelogs_config(lit: LitStr) -> syn::Result<LitStr> {
    let path = existing(&lit)?;
    let config = if path.is_dir() {
        path.join(".pum.yaml")
    } else {
        path
    };
    if !config.is_file() {
        return Err(syn::Error::new(
            lit.span(),
            format!("{} holds no .pum.yaml", lit.value()),
        ));
    }
    let relative = config
        .strip_prefix(manifest_dir())
        .map(Path::to_path_buf)
        .unwrap_or(config);
    Ok(LitStr::new(&relative.display().to_string(), lit.span()))
}

/// The parenthesized strings of `key("a", "b")`.
fn string_list(
    meta: &syn::meta::ParseNestedMeta,
) -> syn::Result<syn::punctuated::Punctuated<LitStr, syn::Token![,]>> {
    let content;
    syn::parenthesized!(content in meta.input);
    syn::punctuated::Punctuated::<LitStr, syn::Token![,]>::parse_terminated(&content)
}

/// One `NAME = value` of `parameters(…)`, the value as text.
fn parameter(param: syn::meta::ParseNestedMeta) -> syn::Result<(String, String)> {
    let name = param
        .path
        .get_ident()
        .ok_or_else(|| param.error("a parameter is NAME = value"))?
        .to_string();
    let value: Lit = param.value()?.parse()?;
    let text = match &value {
        Lit::Str(s) => s.value(),
        Lit::Int(i) => i.base10_digits().to_string(),
        Lit::Float(f) => f.base10_digits().to_string(),
        Lit::Bool(b) => b.value.to_string(),
        other => {
            return Err(syn::Error::new(
                other.span(),
                "a parameter value is a string, number or boolean",
            ));
        }
    };
    Ok((name, text))
}

/// `reference = "…"`, checked: `install:VERSION` holds a version, a file exists.
fn reference(lit: LitStr) -> syn::Result<LitStr> {
    let text = lit.value();
    if let Some(version) = text.strip_prefix("install:") {
        if !is_version(version) {
            return Err(syn::Error::new(
                lit.span(),
                "install:VERSION needs a version such as \"install:1.2.0\"",
            ));
        }
    } else if text != "install" && !text.starts_with("db:") {
        existing(&lit)?;
    }
    Ok(lit)
}

/// One kind of object of `ignore(…)`, checked against [`KINDS`].
fn ignored_kind(kind: syn::meta::ParseNestedMeta) -> syn::Result<syn::Ident> {
    let ident = kind
        .path
        .get_ident()
        .ok_or_else(|| kind.error("a kind of object, such as privileges"))?;
    if !KINDS.iter().any(|(name, _)| ident == name) {
        return Err(syn::Error::new(
            ident.span(),
            format!(
                "unknown kind of object `{ident}` (known: {})",
                KINDS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(ident.clone())
}

/// `lint = "deny" | "warn" | "off"`: the `pum::lint` level's variant, at the string's span.
fn lint_level(lit: LitStr) -> syn::Result<syn::Ident> {
    let variant = match lit.value().as_str() {
        "deny" => "Deny",
        "warn" => "Warn",
        "off" => "Off",
        _ => {
            return Err(syn::Error::new(
                lit.span(),
                "lint is \"deny\" (a hazard fails the upgrade path), \"warn\" or \"off\"",
            ));
        }
    };
    Ok(syn::Ident::new(variant, lit.span()))
}

/// `isolation = "database" | "transaction"`: the `pum::testing::Isolation` variant, at the
/// string's span.
fn isolation(lit: LitStr) -> syn::Result<syn::Ident> {
    let variant = match lit.value().as_str() {
        "database" => "Database",
        "transaction" => "Transaction",
        _ => {
            return Err(syn::Error::new(
                lit.span(),
                "isolation is \"database\" (the default: a database of the test's own) or \
                 \"transaction\" (one session in a transaction rolled back at the end, on a \
                 database shared by the tests of the same template)",
            ));
        }
    };
    Ok(syn::Ident::new(variant, lit.span()))
}

/// Whether `ty` is `TestDb` (any path ending in it).
fn is_test_db(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "TestDb"),
        _ => false,
    }
}

/// The path `lit` names at run time: relative to `CARGO_MANIFEST_DIR`, or as written when
/// absolute.
pub(crate) fn path_expr(lit: &LitStr) -> Tokens {
    if Path::new(&lit.value()).is_absolute() {
        return quote! { ::std::path::Path::new(#lit) };
    }
    quote! { ::std::path::Path::new(::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #lit)) }
}

/// Whether `attr` is `#[tokio::test]` (or `#[tokio::main]`).
fn is_tokio_attr(attr: &syn::Attribute) -> bool {
    let segments: Vec<String> = attr
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    segments.len() == 2
        && segments[0] == "tokio"
        && (segments[1] == "test" || segments[1] == "main")
}

/// Whether `tokens` hold what `#[tokio::test]` writes in the function it expanded (it ran
/// first: it was written above `#[pum_test]`).
fn expanded_by_tokio(tokens: Tokens) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Literal(lit) => {
            lit.to_string() == "\"Failed building the Runtime\""
        }
        proc_macro2::TokenTree::Group(group) => expanded_by_tokio(group.stream()),
        _ => false,
    })
}

const TOKIO_TEST: &str = "remove #[tokio::test]: #[pum_test] runs an `async fn` test on a tokio \
     runtime of its own (pum's feature `tokio`), where the harness's blocking calls work; write \
     `#[pum_test] async fn name(db: TestDb)`";

/// Refuses what `#[pum_test]` cannot wrap: `#[tokio::test]` (below or already expanded
/// above) and generic functions.
fn refuse_unsupported(function: &ItemFn) -> syn::Result<()> {
    if let Some(attr) = function.attrs.iter().find(|a| is_tokio_attr(a)) {
        return Err(syn::Error::new(attr.span(), TOKIO_TEST));
    }
    if expanded_by_tokio(function.block.to_token_stream()) {
        return Err(syn::Error::new(
            function.sig.ident.span(),
            format!(
                "{TOKIO_TEST} (#[tokio::test] written above #[pum_test] has already made it a sync fn)"
            ),
        ));
    }
    if !function.sig.generics.params.is_empty() || function.sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            function.sig.generics.span(),
            "a #[pum_test] function cannot be generic: a test is one concrete function (write \
             the types out, or call a generic helper from the test)",
        ));
    }
    Ok(())
}

/// Splits the parameters: the outer function's (all but the `TestDb`, with their
/// attributes, which the inner function loses) and the inner call's arguments.
fn split_inputs(function: &mut ItemFn) -> syn::Result<(Vec<syn::PatType>, Vec<Tokens>)> {
    let mut outer_inputs = Vec::new();
    let mut call_args = Vec::new();
    let mut db_seen = false;
    for input in function.sig.inputs.iter_mut() {
        let FnArg::Typed(typed) = input else {
            return Err(syn::Error::new(
                input.span(),
                "a #[pum_test] function takes no self",
            ));
        };
        if is_test_db(&typed.ty) {
            if db_seen {
                return Err(syn::Error::new(
                    typed.ty.span(),
                    "only one TestDb parameter",
                ));
            }
            db_seen = true;
            call_args.push(quote! { __pum_db });
            continue;
        }
        let Pat::Ident(ident) = &*typed.pat else {
            return Err(syn::Error::new(
                typed.pat.span(),
                "parameters besides the TestDb must be plain names",
            ));
        };
        let ident = ident.ident.clone();
        // rstest's #[case] and the like stay on the outer function only.
        let mut outer = typed.clone();
        outer.pat = Box::new(syn::parse_quote!(#ident));
        outer_inputs.push(outer);
        typed.attrs.clear();
        call_args.push(quote! { #ident });
    }
    if !db_seen {
        return Err(no_test_db(function));
    }
    Ok((outer_inputs, call_args))
}

/// The error for a function without a `TestDb` parameter (with a word on `#[rstest]`
/// written above, which hands over functions that take nothing).
fn no_test_db(function: &ItemFn) -> syn::Error {
    // #[rstest] written above #[pum_test] ran first: #[pum_test] sees the #[test]
    // functions it made, which take nothing.
    let rstest_above = function.sig.inputs.is_empty()
        && function
            .attrs
            .iter()
            .any(|a| a.path().segments.last().is_some_and(|s| s.ident == "test"));
    let message = if rstest_above {
        "a #[pum_test] function takes a `pum::testing::TestDb` parameter; with #[rstest], \
         write #[pum_test] above it (`#[pum_test(…)] #[rstest] fn name(db: TestDb)`): \
         #[rstest] written above runs first and hands #[pum_test] the functions it made"
    } else {
        "a #[pum_test] function takes a `pum::testing::TestDb` parameter"
    };
    syn::Error::new(function.sig.ident.span(), message)
}

/// The `pum::testing::TestSpec` expression the arguments describe, for test `name`.
fn test_spec(args: &Args, name: &syn::Ident) -> Tokens {
    let mut spec = quote! {
        ::pum::testing::TestSpec::new(::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)))
    };
    let config = args.config.clone().or_else(|| {
        manifest_dir()
            .join(".pum.yaml")
            .is_file()
            .then(|| LitStr::new(".pum.yaml", Span::call_site()))
    });
    if let Some(config) = &config {
        let path = path_expr(config);
        spec.extend(quote! { .config(#path) });
    }
    if let Some(base) = &args.base {
        let value = base_expr(base);
        spec.extend(quote! { .base(#value) });
    }
    if let Some(version) = &args.max_version {
        spec.extend(quote! {
            .max_version(::pum::Version::parse(#version).expect("checked by #[pum_test]"))
        });
    }
    for fixture in &args.fixtures {
        let path = path_expr(fixture);
        spec.extend(quote! { .fixture(#path) });
    }
    if let Some(reference) = &args.reference {
        spec.extend(quote! {
            .reference(::pum::testing::ReferenceSpec::parse(
                #reference,
                ::std::path::Path::new(::core::env!("CARGO_MANIFEST_DIR")),
            ).expect("checked by #[pum_test]"))
        });
    }
    if let Some(isolation) = &args.isolation {
        spec.extend(quote! { .isolation(::pum::testing::Isolation::#isolation) });
    }
    spec.extend(shared_calls(args));
    spec
}

/// The builder calls `#[pum_test]` and `upgrade_paths!` share: parameters, ignored kinds,
/// excluded schemas.
pub(crate) fn shared_calls(args: &Args) -> Tokens {
    let mut calls = Tokens::new();
    for (param, value) in &args.parameters {
        calls.extend(quote! { .parameter(#param, #value) });
    }
    for kind in &args.ignore {
        let variant = KINDS
            .iter()
            .find(|(n, _)| kind == n)
            .map(|(_, v)| format_ident!("{}", v))
            .unwrap_or_else(|| kind.clone());
        calls.extend(quote! { .ignore(::pum::checker::Kind::#variant) });
    }
    for schema in &args.exclude_schemas {
        calls.extend(quote! { .exclude_schema(#schema) });
    }
    calls
}

/// The `pum::testing::Base` that `base = "…"` names: a database, SQL files or a dump.
fn base_expr(base: &LitStr) -> Tokens {
    let text = base.value();
    if let Some(db) = text.strip_prefix("db:") {
        quote! { ::pum::testing::Base::Database(#db.to_string()) }
    } else if text.ends_with(".sql") {
        let path = path_expr(base);
        quote! { ::pum::testing::Base::SqlFiles(::std::vec![#path.to_path_buf()]) }
    } else {
        let path = path_expr(base);
        quote! { ::pum::testing::Base::Dump(#path.to_path_buf()) }
    }
}

/// The `pum::testing` function that runs the body: async or not, expecting a panic or not.
fn runner(is_async: bool, should_panic: bool) -> Tokens {
    // A #[should_panic] test must not take pum's failure to set it up for its panic.
    match (is_async, should_panic) {
        (true, false) => quote! { ::pum::testing::run_async },
        (true, true) => quote! { ::pum::testing::run_async_should_panic },
        (false, false) => quote! { ::pum::testing::run },
        (false, true) => quote! { ::pum::testing::run_should_panic },
    }
}

/// Wraps the test function: the outer `#[test]` function runs the body through `pum::testing`.
fn expand(args: Args, mut function: ItemFn) -> syn::Result<Tokens> {
    let name = function.sig.ident.clone();
    refuse_unsupported(&function)?;
    let (outer_inputs, call_args) = split_inputs(&mut function)?;
    let spec = test_spec(&args, &name);

    let is_test_attr = |a: &syn::Attribute| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "test" || s.ident == "rstest")
    };
    let driven = function.attrs.iter().any(is_test_attr);
    if !driven && !outer_inputs.is_empty() {
        // Nothing below gives the other parameters: #[rstest] is missing, or written above
        // (it then ran first and took the TestDb for one of its fixtures).
        return Err(syn::Error::new(
            outer_inputs[0].span(),
            "parameters besides the TestDb come from #[rstest] written below #[pum_test]: \
             `#[pum_test(…)] #[rstest] #[case(…)] fn name(#[case] x: T, db: TestDb)` (with \
             #[rstest] above, rstest runs first and takes the TestDb for a fixture)",
        ));
    }
    let should_panic = function
        .attrs
        .iter()
        .any(|a| a.path().is_ident("should_panic"));
    let test_attr = if driven {
        quote! {}
    } else {
        quote! { #[test] }
    };
    let outer_attrs = &function.attrs;
    let vis = &function.vis;
    let mut inner = function.clone();
    inner.attrs.clear();
    inner.vis = syn::Visibility::Inherited;
    inner.sig.ident = format_ident!("__pum_body");
    let run = runner(function.sig.asyncness.is_some(), should_panic);
    let inner_tokens = inner.into_token_stream();
    Ok(quote! {
        #(#outer_attrs)*
        #test_attr
        #vis fn #name(#(#outer_inputs),*) {
            #inner_tokens
            #run(#spec, |__pum_db| __pum_body(#(#call_args),*));
        }
    })
}

/// Compiles a pum project into the program: `static DB: pum::embed::Embedded =
/// pum::embed_changelogs!("db");` reads `db/.pum.yaml` (relative to `CARGO_MANIFEST_DIR`),
/// the files of its changelogs directory and the SQL files its hooks and demo data name,
/// and gives a `pum::embed::Embedded` that installs, upgrades and describes a database
/// with them. A missing directory or file, a configuration that is not YAML, or a Python
/// or executable hook is a compile error.
///
/// Files are tracked (editing one rebuilds the crate); to see a file added or removed,
/// give the crate a build script saying `println!("cargo:rerun-if-changed=db");`.
#[proc_macro]
pub fn embed_changelogs(input: TokenStream) -> TokenStream {
    let dir = syn::parse_macro_input!(input as LitStr);
    match embed::expand(&dir, &manifest_dir()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// One `#[test]` per version of the project's changelogs but the newest, named
/// `upgrade_from_<x>_<y>_<z>`: a database at that version (a cached template), upgraded
/// with today's changelogs, must equal a fresh install of every version; a failure names
/// the version and the differences.
///
/// ```text
/// pum::upgrade_paths!();                                  // .pum.yaml in CARGO_MANIFEST_DIR
/// pum::upgrade_paths!(config = "db/.pum.yaml", parameters(SRID = 2056),
///                     ignore(privileges), exclude_schemas("audit"), git_tag = "v{version}",
///                     lint = "deny");
/// ```
///
/// Arguments: `config`/`changelogs`, `parameters(…)`, `ignore(…)` as in `#[pum_test]`;
/// `exclude_schemas("a", …)`; `git_tag = "v{version}"`: a version with such a tag starts
/// from the files as released at that tag (so editing a released file is caught), one
/// without from today's files; `lint = "deny"` lints the files each path applies (`pum
/// lint`) and fails the path on a hazard of error severity, `"warn"` prints the findings,
/// `"off"` (the default) does not lint. The versions are read when the crate compiles: to see a
/// version directory added or removed without touching a file, give the crate a build
/// script saying `println!("cargo:rerun-if-changed=changelogs");` (as for `sqlx::migrate!`).
#[proc_macro]
pub fn upgrade_paths(input: TokenStream) -> TokenStream {
    let mut args = Args {
        paths: true,
        ..Args::default()
    };
    let parser = syn::meta::parser(|meta| args.parse(meta));
    if let Err(e) = syn::parse::Parser::parse(parser, input) {
        return e.to_compile_error().into();
    }
    match paths::expand_upgrade_paths(args) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_are_taken_as_written() {
        let absolute = path_expr(&LitStr::new("/srv/db/.pum.yaml", Span::call_site())).to_string();
        assert!(!absolute.contains("CARGO_MANIFEST_DIR"), "{absolute}");
        assert!(absolute.contains("\"/srv/db/.pum.yaml\""), "{absolute}");
        let relative = path_expr(&LitStr::new("db/.pum.yaml", Span::call_site())).to_string();
        assert!(relative.contains("CARGO_MANIFEST_DIR"), "{relative}");
    }
}
