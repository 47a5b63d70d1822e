//! The REST bindings of the API: every `google.api.http` rule (additional bindings included)
//! of the services the edge transcodes, read from the descriptor set, and the matching of a
//! request's method and path against their templates, as Envoy's path matcher does it.

use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};

/// One HTTP rule of one method.
#[derive(Debug, Clone)]
pub struct Binding {
    pub method: MethodDescriptor,
    http_method: String,
    template: Vec<Segment>,
    /// `body`: "*" for the whole request message, a field name, or empty for none.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    /// `{field.path}` or `{field.path=*}`: one segment.
    Variable(String),
    /// `{field.path=**}`: the rest of the path.
    Rest(String),
}

/// A matched request: the binding and the path variables (field path, decoded value).
pub struct Matched<'a> {
    pub binding: &'a Binding,
    pub variables: Vec<(String, String)>,
}

pub fn load(pool: &DescriptorPool, services: &[String]) -> Result<Vec<Binding>, String> {
    let http = pool
        .get_extension_by_name("google.api.http")
        .ok_or("google.api.http is not in the descriptor set")?;
    let mut bindings = Vec::new();
    for name in services {
        let service = pool
            .get_service_by_name(name)
            .ok_or_else(|| format!("service {name} is not in the descriptor set"))?;
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&http) {
                continue;
            }
            let rule = options.get_extension(&http);
            let Value::Message(rule) = rule.as_ref() else {
                continue;
            };
            add_rule(&method, rule, &mut bindings)?;
            if let Some(Value::List(more)) =
                rule.get_field_by_name("additional_bindings").as_deref()
            {
                for extra in more {
                    if let Value::Message(extra) = extra {
                        add_rule(&method, extra, &mut bindings)?;
                    }
                }
            }
        }
    }
    Ok(bindings)
}

fn add_rule(
    method: &MethodDescriptor,
    rule: &DynamicMessage,
    bindings: &mut Vec<Binding>,
) -> Result<(), String> {
    let string = |name: &str| {
        rule.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let (http_method, path) = ["get", "put", "post", "delete", "patch"]
        .into_iter()
        .find_map(|verb| {
            rule.has_field_by_name(verb)
                .then(|| (verb.to_uppercase(), string(verb)))
        })
        .ok_or_else(|| {
            format!(
                "{}: custom HTTP verbs are not supported",
                method.full_name()
            )
        })?;
    bindings.push(Binding {
        method: method.clone(),
        http_method,
        template: parse_template(&path)
            .map_err(|e| format!("{}: template {path:?}: {e}", method.full_name()))?,
        body: string("body"),
    });
    Ok(())
}

fn parse_template(path: &str) -> Result<Vec<Segment>, String> {
    let path = path.strip_prefix('/').ok_or("must start with /")?;
    if path.contains(':') {
        return Err("custom verbs (\":verb\") are not supported".into());
    }
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                None if segment.contains(['{', '}', '*']) => {
                    Err(format!("unsupported segment {segment:?}"))
                }
                None => Ok(Segment::Literal(segment.to_owned())),
                Some(variable) => match variable.split_once('=') {
                    None => Ok(Segment::Variable(variable.to_owned())),
                    Some((field, "*")) => Ok(Segment::Variable(field.to_owned())),
                    Some((field, "**")) => Ok(Segment::Rest(field.to_owned())),
                    Some(_) => Err(format!("unsupported variable {variable:?}")),
                },
            },
        )
        .collect()
}

/// The binding for `http_method` and `path` (without the query), if any.
pub fn find<'a>(bindings: &'a [Binding], http_method: &str, path: &str) -> Option<Matched<'a>> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    bindings
        .iter()
        .filter(|binding| binding.http_method == http_method)
        .find_map(|binding| {
            let variables = match_template(&binding.template, &segments)?;
            Some(Matched { binding, variables })
        })
}

fn match_template(template: &[Segment], segments: &[&str]) -> Option<Vec<(String, String)>> {
    let mut variables = Vec::new();
    for (i, part) in template.iter().enumerate() {
        match part {
            Segment::Literal(literal) => {
                if segments.get(i) != Some(&literal.as_str()) {
                    return None;
                }
            }
            Segment::Variable(field) => {
                let value = segments.get(i).filter(|s| !s.is_empty())?;
                variables.push((field.clone(), percent_decode(value)?));
            }
            Segment::Rest(field) => {
                let rest = segments.get(i..)?.join("/");
                variables.push((field.clone(), percent_decode(&rest)?));
                return Some(variables);
            }
        }
    }
    (segments.len() == template.len()).then_some(variables)
}

/// Percent-decoding of a path segment or query value. Every escape is decoded; Envoy's default
/// (ALL_CHARACTERS_EXCEPT_RESERVED) would keep reserved ones such as `%2F` encoded in path
/// variables, which no path variable of the API (numeric ids, usernames, hashtags) can hold.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
