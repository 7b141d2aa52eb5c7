//! Check constraints written without opening their tables.
//!
//! `pg_get_constraintdef` opens the table of every check constraint to learn its columns'
//! names, which builds the table's relation cache entry: for a catalog of 1,000 tables
//! with a check each, that was a third of the constraint query's time. The common checks
//! are small expressions (`price >= 0`, `a IS NULL OR a < 5`, `kind = ANY (ARRAY[…])`), so
//! pum writes those itself from the stored expression (`conbin`, a node tree), exactly as
//! PostgreSQL 15's `pg_get_constraintdef(oid, true)` writes them, with the names of the
//! columns it mentions read in the same query (`conkey`) and operator names from
//! `pg_operator`. Anything else — another node, a function, a type or an operator it
//! does not know for sure, another server version — is left to `pg_get_constraintdef`,
//! in one more query. A test compares both on the server for every form written here.

use std::collections::HashMap;

use postgres::Transaction;
use postgres::types::Type;

use super::Attributes;
use crate::error::{Error, Result};

/// The constraint query's columns for what is written here: the constraint's oid, its
/// expression and the quoted names of the columns it mentions (JSON, by number), set
/// only on the constraints left to pum; they are not attributes.
pub(super) const OID: &str = "_oid";
pub(super) const EXPRESSION: &str = "_check";
pub(super) const COLUMNS: &str = "_check_columns";

/// Writes the `definition` of the check constraints the query left to pum (those with
/// an [`EXPRESSION`]), asking PostgreSQL for those it cannot write; counts the queries.
pub(super) fn write_definitions(
    tx: &mut Transaction,
    objects: &mut [(String, Attributes)],
    queries: &mut usize,
) -> Result<()> {
    let pending: Vec<usize> = (0..objects.len())
        .filter(|&i| objects[i].1.contains_key(EXPRESSION))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    let failed = |e: postgres::Error| Error::sql("read the check constraints", &e);
    let operators: HashMap<u32, Operator> = tx
        .query(OPERATORS, &[])
        .map_err(failed)?
        .iter()
        .map(|row| {
            let oid = |i| u32::try_from(row.get::<_, i64>(i)).unwrap_or(0);
            let op = Operator {
                name: row.get(1),
                left: oid(2),
                right: oid(3),
            };
            (oid(0), op)
        })
        .collect();
    *queries += 1;
    let mut left_to_postgresql = Vec::new();
    for &i in &pending {
        let attributes = &mut objects[i].1;
        let value = |name| attributes.get(name).flatten();
        let oid = value(OID).and_then(|o| o.parse::<u32>().ok());
        let columns: HashMap<i16, String> = value(COLUMNS)
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default();
        let context = Context {
            columns: &columns,
            operators: &operators,
        };
        let definition = check_definition(value(EXPRESSION).unwrap_or_default(), &context);
        if definition.is_none() {
            left_to_postgresql.push((oid.unwrap_or(0), i));
        }
        let written = definition.map(|definition| ("definition", Some(definition)));
        attributes.change(&[OID, EXPRESSION, COLUMNS], written);
    }
    if left_to_postgresql.is_empty() {
        return Ok(());
    }
    let oids: Vec<u32> = left_to_postgresql.iter().map(|(oid, _)| *oid).collect();
    let written: HashMap<u32, String> = tx
        .query_typed(
            "SELECT co.oid, pg_get_constraintdef(co.oid, true) FROM pg_constraint co \
             WHERE co.oid = ANY($1)",
            &[(&oids, Type::OID_ARRAY)],
        )
        .map_err(failed)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    *queries += 1;
    for (oid, i) in left_to_postgresql {
        objects[i]
            .1
            .insert("definition", written.get(&oid).cloned());
    }
    Ok(())
}

/// The node-tree text of an expression, parsed: `{TAG :field value …}`, lists `( … )`,
/// other tokens as they are.
#[derive(Debug, PartialEq)]
enum Value<'a> {
    Token(&'a str),
    Node(Node<'a>),
    List(Vec<Value<'a>>),
}

#[derive(Debug, PartialEq)]
struct Node<'a> {
    tag: &'a str,
    fields: Vec<(&'a str, Value<'a>)>,
}

impl<'a> Node<'a> {
    fn field(&self, name: &str) -> Option<&Value<'a>> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    fn token(&self, name: &str) -> Option<&'a str> {
        match self.field(name)? {
            Value::Token(t) => Some(t),
            _ => None,
        }
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.token(name)?.parse().ok()
    }

    fn args(&self) -> Option<&[Value<'a>]> {
        match self.field("args")? {
            Value::List(items) => Some(items),
            _ => None,
        }
    }
}

/// The tokens of a node tree, split as PostgreSQL's reader splits them: `(){}` alone,
/// everything else up to white space or one of those (a backslash escapes a character).
fn tokens(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\n' | b'\t' => i += 1,
            b'(' | b')' | b'{' | b'}' => {
                out.push(&text[i..i + 1]);
                i += 1;
            }
            _ => {
                let start = i;
                while i < bytes.len() && !b" \n\t(){}".contains(&bytes[i]) {
                    i += if bytes[i] == b'\\' && i + 1 < bytes.len() {
                        2
                    } else {
                        1
                    };
                }
                out.push(&text[start..i.min(bytes.len())]);
            }
        }
    }
    out
}

/// Reads node trees; `None` for anything malformed or nested too deep.
struct Reader<'a> {
    tokens: Vec<&'a str>,
    at: usize,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let token = self.tokens.get(self.at).copied();
        self.at += 1;
        token
    }

    fn value(&mut self, depth: usize) -> Option<Value<'a>> {
        if depth > 64 {
            return None;
        }
        match self.next()? {
            "{" => self.node(depth + 1).map(Value::Node),
            "(" => {
                let mut items = Vec::new();
                while self.tokens.get(self.at) != Some(&")") {
                    items.push(self.value(depth + 1)?);
                }
                self.at += 1;
                Some(Value::List(items))
            }
            ")" | "}" => None,
            token => Some(Value::Token(token)),
        }
    }

    /// A node, its `{` read.
    fn node(&mut self, depth: usize) -> Option<Node<'a>> {
        let tag = self.next()?;
        let mut fields = Vec::new();
        loop {
            match self.next()? {
                "}" => return Some(Node { tag, fields }),
                field if field.starts_with(':') => {
                    let value = if field == ":constvalue" {
                        self.datum()?
                    } else {
                        self.value(depth)?
                    };
                    fields.push((&field[1..], value));
                }
                _ => return None,
            }
        }
    }

    /// A constant's value: `<>` (NULL), or its length and bytes, `4 [ 1 0 0 0 0 0 0 0 ]`.
    fn datum(&mut self) -> Option<Value<'a>> {
        let first = self.next()?;
        if first == "<>" {
            return Some(Value::Token(first));
        }
        if self.next()? != "[" {
            return None;
        }
        let mut bytes = vec![Value::Token(first)];
        loop {
            match self.next()? {
                "]" => return Some(Value::List(bytes)),
                byte => bytes.push(Value::Token(byte)),
            }
        }
    }
}

fn parse(text: &str) -> Option<Node<'_>> {
    let mut reader = Reader {
        tokens: tokens(text),
        at: 0,
    };
    let node = match reader.value(0)? {
        Value::Node(node) => node,
        _ => return None,
    };
    (reader.at == reader.tokens.len()).then_some(node)
}

/// A built-in binary operator of `pg_catalog`: its name and operand types.
#[derive(Debug, Clone)]
pub(super) struct Operator {
    pub name: String,
    pub left: u32,
    pub right: u32,
}

/// The operators query: built-in binary operators of `pg_catalog` (a user's operator, even
/// there, has an oid above them and is left to PostgreSQL).
pub(super) const OPERATORS: &str = "SELECT o.oid::int8, o.oprname::text, o.oprleft::int8, \
     o.oprright::int8 FROM pg_operator o WHERE o.oprnamespace = 'pg_catalog'::regnamespace \
     AND o.oprkind = 'b' AND o.oid < 16384";

/// What writing one expression needs: the quoted names of the columns it mentions, by
/// attribute number, and the operators.
pub(super) struct Context<'a> {
    pub columns: &'a HashMap<i16, String>,
    pub operators: &'a HashMap<u32, Operator>,
}

const BOOL: u32 = 16;
const INT8: u32 = 20;
const INT2: u32 = 21;
const INT4: u32 = 23;
const TEXT: u32 = 25;

/// Where a node is written, for its parentheses (PostgreSQL's `isSimpleNode` with
/// pretty-printing, for the nodes written here).
#[derive(Clone, Copy, PartialEq)]
enum Parent {
    Top,
    Operator,
    And,
    Or,
    Not,
}

/// `CHECK (…)` as `pg_get_constraintdef(oid, true)` writes it on PostgreSQL 15, for a
/// valid, inheritable check constraint whose expression is `conbin`; `None` when the
/// expression holds anything not written here.
pub(super) fn check_definition(conbin: &str, context: &Context) -> Option<String> {
    let node = parse(conbin)?;
    Some(format!(
        "CHECK ({})",
        expression(&node, Parent::Top, context)?
    ))
}

/// A node, parenthesised where its parent needs it.
fn expression(node: &Node, parent: Parent, cx: &Context) -> Option<String> {
    let (text, simple) = match node.tag {
        "VAR" => (var(node, cx)?, true),
        "CONST" => (constant(node)?, true),
        "OPEXPR" => (operator(node, cx)?, parent != Parent::Operator),
        // Not among the nodes PostgreSQL leaves bare under AND, OR and NOT.
        "SCALARARRAYOPEXPR" => (any_all(node, cx)?, parent == Parent::Top),
        "NULLTEST" => (null_test(node, cx)?, parent != Parent::Operator),
        "BOOLEXPR" => {
            let op = node.token("boolop")?;
            let simple = matches!(
                (op, parent),
                ("and" | "not", Parent::And | Parent::Or) | ("or", Parent::Or) | (_, Parent::Top)
            );
            (boolean(node, op, cx)?, simple)
        }
        _ => return None,
    };
    Some(if simple { text } else { format!("({text})") })
}

/// The type of an operand written here.
fn type_of(node: &Node) -> Option<u32> {
    match node.tag {
        "VAR" => node.number("vartype"),
        "CONST" => node.number("consttype"),
        "RELABELTYPE" => node.number("resulttype"),
        _ => None,
    }
}

/// A column of the table (never of another query level).
fn var(node: &Node, cx: &Context) -> Option<String> {
    if node.token("varno")? != "1" || node.token("varlevelsup")? != "0" {
        return None;
    }
    cx.columns.get(&node.number("varattno")?).cloned()
}

/// An operand: a column, a constant, or a column relabelled to `text` (`varchar` to text).
fn operand(value: &Value, cx: &Context) -> Option<(String, u32)> {
    let Value::Node(node) = value else {
        return None;
    };
    let text = match node.tag {
        "VAR" => var(node, cx)?,
        "CONST" => constant(node)?,
        "RELABELTYPE" => {
            let Some(Value::Node(arg)) = node.field("arg") else {
                return None;
            };
            if arg.tag != "VAR" || node.number::<u32>("resulttype")? != TEXT {
                return None;
            }
            if node.token("resulttypmod")? != "-1" {
                return None;
            }
            format!("{}::text", var(arg, cx)?)
        }
        _ => return None,
    };
    Some((text, type_of(node)?))
}

/// The name of a built-in operator on exactly these types (which PostgreSQL writes
/// unqualified); `None` for any other.
fn operator_name<'a>(opno: u32, left: u32, right: u32, cx: &'a Context) -> Option<&'a str> {
    let op = cx.operators.get(&opno)?;
    (op.left == left && op.right == right).then_some(op.name.as_str())
}

/// `left op right`.
fn operator(node: &Node, cx: &Context) -> Option<String> {
    let [left, right] = node.args()? else {
        return None;
    };
    let (left, left_type) = operand(left, cx)?;
    let (right, right_type) = operand(right, cx)?;
    let name = operator_name(node.number("opno")?, left_type, right_type, cx)?;
    Some(format!("{left} {name} {right}"))
}

/// `left op ANY (ARRAY[…])` (or `ALL`), the array of constants.
fn any_all(node: &Node, cx: &Context) -> Option<String> {
    let [left, Value::Node(array)] = node.args()? else {
        return None;
    };
    let (left, left_type) = operand(left, cx)?;
    if array.tag != "ARRAYEXPR" || array.token("multidims")? != "false" {
        return None;
    }
    let element_type = array.number("element_typeid")?;
    let Some(Value::List(elements)) = array.field("elements") else {
        return None;
    };
    if elements.is_empty() {
        return None;
    }
    let elements = elements
        .iter()
        .map(|e| match e {
            Value::Node(c) if c.tag == "CONST" && type_of(c)? == element_type => constant(c),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    let name = operator_name(node.number("opno")?, left_type, element_type, cx)?;
    let quantifier = match node.token("useOr")? {
        "true" => "ANY",
        "false" => "ALL",
        _ => return None,
    };
    Some(format!(
        "{left} {name} {quantifier} (ARRAY[{}])",
        elements.join(", ")
    ))
}

/// `column IS [NOT] NULL`.
fn null_test(node: &Node, cx: &Context) -> Option<String> {
    let Some(Value::Node(arg)) = node.field("arg") else {
        return None;
    };
    if arg.tag != "VAR" || node.token("argisrow")? != "false" {
        return None;
    }
    let test = match node.token("nulltesttype")? {
        "0" => "IS NULL",
        "1" => "IS NOT NULL",
        _ => return None,
    };
    Some(format!("{} {test}", var(arg, cx)?))
}

/// `a AND b …`, `a OR b …`, `NOT a`.
fn boolean(node: &Node, op: &str, cx: &Context) -> Option<String> {
    let (parent, separator) = match op {
        "and" => (Parent::And, " AND "),
        "or" => (Parent::Or, " OR "),
        "not" => (Parent::Not, ""),
        _ => return None,
    };
    let args = node
        .args()?
        .iter()
        .map(|arg| match arg {
            Value::Node(n) => expression(n, parent, cx),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    match (op, args.as_slice()) {
        ("not", [arg]) => Some(format!("NOT {arg}")),
        ("not", _) => None,
        (_, [_, _, ..]) => Some(args.join(separator)),
        _ => None,
    }
}

/// A constant of `boolean`, `smallint`, `integer`, `bigint` or ASCII `text` (no
/// backslash, whose writing depends on `standard_conforming_strings`), as
/// `get_const_expr` writes it: integers plain when not negative, the others quoted with
/// their type.
fn constant(node: &Node) -> Option<String> {
    if node.token("constisnull")? != "false" || node.token("consttypmod")? != "-1" {
        return None;
    }
    // A collation other than the type's would be written too.
    let collation = if node.number::<u32>("consttype")? == TEXT {
        "100"
    } else {
        "0"
    };
    if node.token("constcollid")? != collation {
        return None;
    }
    let Some(Value::List(datum)) = node.field("constvalue") else {
        return None;
    };
    let bytes = datum[1..]
        .iter()
        .map(|b| match b {
            Value::Token(t) => t.parse::<i8>().ok().map(|b| b as u8),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()?;
    let word = |n: usize| -> Option<i64> {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(bytes.get(..8)?);
        let value = i64::from_le_bytes(raw);
        Some(match n {
            2 => i64::from(value as i16),
            4 => i64::from(value as i32),
            _ => value,
        })
    };
    match node.number::<u32>("consttype")? {
        BOOL => Some(
            if word(1)? & 0xff != 0 {
                "true"
            } else {
                "false"
            }
            .to_string(),
        ),
        INT4 => Some(match word(4)? {
            v if v >= 0 => v.to_string(),
            v => format!("'{v}'::integer"),
        }),
        INT2 => Some(format!("'{}'::smallint", word(2)?)),
        INT8 => Some(format!("'{}'::bigint", word(8)?)),
        TEXT => {
            let text = varlena_text(&bytes)?;
            Some(format!("'{}'::text", text.replace('\'', "''")))
        }
        _ => None,
    }
}

/// The characters of a `text` value (a 4-byte or 1-byte header, uncompressed), when they
/// are ASCII without a backslash.
fn varlena_text(bytes: &[u8]) -> Option<&str> {
    let first = *bytes.first()?;
    let (header, length) = if first & 0x03 == 0 {
        let raw: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
        (4, (u32::from_le_bytes(raw) >> 2) as usize)
    } else if first & 0x01 == 1 && first != 0x01 {
        (1, (first >> 1) as usize)
    } else {
        return None;
    };
    let body = bytes.get(header..length)?;
    if length != bytes.len() || !body.iter().all(|b| b.is_ascii() && *b != b'\\') {
        return None;
    }
    std::str::from_utf8(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `check_definition` with columns 1 `a` and 4 `"Weird Col"`, operators 525 (`>=` on
    /// integers) and 98 (`=` on text).
    fn written(conbin: &str) -> Option<String> {
        let columns = HashMap::from([(1, "a".to_string()), (4, "\"Weird Col\"".to_string())]);
        let op = |name: &str, left, right| Operator {
            name: name.into(),
            left,
            right,
        };
        let operators = HashMap::from([(525, op(">=", INT4, INT4)), (98, op("=", TEXT, TEXT))]);
        let context = Context {
            columns: &columns,
            operators: &operators,
        };
        check_definition(conbin, &context)
    }

    #[test]
    fn simple_checks_are_written_as_postgresql_writes_them() {
        let ge = "{OPEXPR :opno 525 :opfuncid 150 :opresulttype 16 :opretset false :opcollid 0 \
                  :inputcollid 0 :args ({VAR :varno 1 :varattno 1 :vartype 23 :vartypmod -1 \
                  :varcollid 0 :varlevelsup 0 :varnosyn 1 :varattnosyn 1 :location 129} {CONST \
                  :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 :constbyval true \
                  :constisnull false :location 134 :constvalue 4 [ -5 -1 -1 -1 -1 -1 -1 -1 ]}) \
                  :location 131}";
        assert_eq!(written(ge).as_deref(), Some("CHECK (a >= '-5'::integer)"));
        let any = "{SCALARARRAYOPEXPR :opno 98 :opfuncid 67 :hashfuncid 0 :negfuncid 0 :useOr true \
                   :inputcollid 100 :args ({VAR :varno 1 :varattno 4 :vartype 25 :vartypmod -1 \
                   :varcollid 100 :varlevelsup 0 :varnosyn 1 :varattnosyn 4 :location 497} \
                   {ARRAYEXPR :array_typeid 1009 :array_collid 100 :element_typeid 25 :elements \
                   ({CONST :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval \
                   false :constisnull false :location 503 :constvalue 5 [ 20 0 0 0 97 ]} {CONST \
                   :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false \
                   :constisnull false :location 507 :constvalue 8 [ 32 0 0 0 105 116 39 115 ]}) \
                   :multidims false :location -1}) :location 499}";
        assert_eq!(
            written(any).as_deref(),
            Some("CHECK (\"Weird Col\" = ANY (ARRAY['a'::text, 'it''s'::text]))")
        );
    }

    #[test]
    fn anything_unknown_is_left_to_postgresql() {
        for conbin in [
            "",
            "{",
            "{OPEXPR :opno 525",
            "{FUNCEXPR :funcid 1317 :args <>}",
            // An operator not known on these types (int8 >= int4).
            "{OPEXPR :opno 525 :args ({VAR :varno 1 :varattno 1 :vartype 20 :varlevelsup 0} \
             {VAR :varno 1 :varattno 1 :vartype 23 :varlevelsup 0})}",
            // A column not among those named.
            "{NULLTEST :arg {VAR :varno 1 :varattno 9 :vartype 23 :varlevelsup 0} \
             :nulltesttype 0 :argisrow false}",
            // A text constant with a backslash.
            "{OPEXPR :opno 98 :args ({VAR :varno 1 :varattno 4 :vartype 25 :varlevelsup 0} \
             {CONST :consttype 25 :consttypmod -1 :constcollid 100 :constisnull false \
             :constvalue 5 [ 20 0 0 0 92 ]})}",
            // Trailing tokens.
            "{VAR :varno 1 :varattno 1 :vartype 16 :varlevelsup 0} x",
        ] {
            assert_eq!(written(conbin), None, "{conbin}");
        }
    }
}
