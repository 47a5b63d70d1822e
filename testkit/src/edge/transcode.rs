//! JSON to protobuf and back, by Envoy's rules (grpc-httpjson-transcoding): the body bound by
//! `body: "*"`, path variables and query parameters set fields by (dotted) name, proto3 JSON
//! on the way out with the edge's print options, and gRPC errors as `google.rpc.Status` JSON
//! with the HTTP status Envoy maps each code to.

use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor,
    ReflectMessage as _, SerializeOptions, Value,
};
use tonic::Code;

use super::{bindings::Matched, config::TranscoderOptions};

/// A request the edge answers itself, before any upstream call.
#[derive(Debug)]
pub struct Rejection {
    pub status: u16,
    pub message: String,
}

impl Rejection {
    fn bad_request(message: impl Into<String>) -> Self {
        Rejection {
            status: 400,
            message: message.into(),
        }
    }
}

/// The gRPC request message for a matched REST request.
pub fn request_message(
    matched: &Matched<'_>,
    query: Option<&str>,
    body: &[u8],
    options: TranscoderOptions,
) -> Result<DynamicMessage, Rejection> {
    let descriptor = matched.binding.method.input();
    let mut message = DynamicMessage::new(descriptor.clone());
    match matched.binding.body.as_str() {
        "" => {}
        "*" => {
            if !body.iter().all(u8::is_ascii_whitespace) {
                message = from_json(&descriptor, body)?;
            }
        }
        field => {
            let field_descriptor = descriptor
                .get_field_by_name(field)
                .ok_or_else(|| Rejection::bad_request(format!("body field {field} is unknown")))?;
            let Kind::Message(inner) = field_descriptor.kind() else {
                return Err(Rejection::bad_request(
                    "non-message body fields are not supported",
                ));
            };
            if !body.iter().all(u8::is_ascii_whitespace) {
                message.set_field(&field_descriptor, Value::Message(from_json(&inner, body)?));
            }
        }
    }
    for (path, value) in &matched.variables {
        set_by_path(&mut message, path, value)
            .map_err(|e| Rejection::bad_request(format!("path variable {path}: {e}")))?;
    }
    // With body "*" every field comes from the body: there is nothing left to bind.
    if matched.binding.body != "*" {
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = super::bindings::percent_decode(name).unwrap_or_default();
            let value =
                super::bindings::percent_decode(&value.replace('+', " ")).ok_or_else(|| {
                    Rejection::bad_request(format!("query parameter {name}: bad escape"))
                })?;
            match set_by_path(&mut message, &name, &value) {
                Ok(()) => {}
                Err(SetError::UnknownField) if !options.reject_unknown_query_parameters => {}
                Err(e) => {
                    return Err(Rejection::bad_request(format!(
                        "query parameter {name}: {e}"
                    )));
                }
            }
        }
    }
    Ok(message)
}

fn from_json(descriptor: &MessageDescriptor, body: &[u8]) -> Result<DynamicMessage, Rejection> {
    let mut json = serde_json::Deserializer::from_slice(body);
    let message = DynamicMessage::deserialize_with_options(
        descriptor.clone(),
        &mut json,
        // Envoy's JSON parser rejects fields the message does not have.
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|e| Rejection::bad_request(format!("invalid JSON body: {e}")))?;
    json.end()
        .map_err(|e| Rejection::bad_request(format!("invalid JSON body: {e}")))?;
    Ok(message)
}

#[derive(Debug, thiserror::Error)]
enum SetError {
    #[error("no such field")]
    UnknownField,
    #[error("{0}")]
    Invalid(String),
}

/// Sets the field named by a dotted path (proto or JSON names) from its text form.
fn set_by_path(message: &mut DynamicMessage, path: &str, text: &str) -> Result<(), SetError> {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let field = field_by_any_name(&message.descriptor(), head).ok_or(SetError::UnknownField)?;
    match (rest, field.kind()) {
        (Some(rest), Kind::Message(_)) if !field.is_list() && !field.is_map() => {
            let Value::Message(inner) = message.get_field_mut(&field) else {
                return Err(SetError::Invalid("not a message".into()));
            };
            set_by_path(inner, rest, text)
        }
        (Some(_), _) => Err(SetError::UnknownField),
        (None, kind) => {
            let value = scalar(&kind, text).map_err(SetError::Invalid)?;
            if field.is_list() {
                if let Value::List(items) = message.get_field_mut(&field) {
                    items.push(value);
                }
            } else {
                message.set_field(&field, value);
            }
            Ok(())
        }
    }
}

fn field_by_any_name(descriptor: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    descriptor
        .get_field_by_name(name)
        .or_else(|| descriptor.get_field_by_json_name(name))
}

fn scalar(kind: &Kind, text: &str) -> Result<Value, String> {
    let bad = |what: &str| format!("{text:?} is not {what}");
    Ok(match kind {
        Kind::String => Value::String(text.to_owned()),
        Kind::Bool => Value::Bool(text.parse().map_err(|_| bad("a boolean"))?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(text.parse().map_err(|_| bad("an int32"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(text.parse().map_err(|_| bad("an int64"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(text.parse().map_err(|_| bad("a uint32"))?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(text.parse().map_err(|_| bad("a uint64"))?),
        Kind::Float => Value::F32(text.parse().map_err(|_| bad("a float"))?),
        Kind::Double => Value::F64(text.parse().map_err(|_| bad("a double"))?),
        Kind::Enum(descriptor) => Value::EnumNumber(
            descriptor
                .get_value_by_name(text)
                .map(|v| v.number())
                .or_else(|| text.parse().ok())
                .ok_or_else(|| bad(&format!("a {} value", descriptor.full_name())))?,
        ),
        // Envoy also takes base64 bytes and well-known types here; the API binds neither.
        Kind::Bytes => return Err("bytes fields are not supported by the stand-in".into()),
        Kind::Message(descriptor) => {
            return Err(format!(
                "{} cannot be set from a query parameter",
                descriptor.full_name()
            ));
        }
    })
}

/// proto3 JSON of a response, with the edge's print options.
pub fn to_json(message: &DynamicMessage, options: TranscoderOptions) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut json = serde_json::Serializer::new(&mut out);
    message
        .serialize_with_options(
            &mut json,
            &SerializeOptions::new()
                .skip_default_fields(!options.always_print_primitive_fields)
                .use_proto_field_name(options.preserve_proto_field_names)
                .use_enum_numbers(options.always_print_enums_as_ints),
        )
        .map_err(|e| {
            format!(
                "cannot print {} as JSON: {e}",
                message.descriptor().full_name()
            )
        })?;
    Ok(out)
}

/// The HTTP status Envoy answers for a gRPC status code (`Grpc::Utility::grpcToHttpStatus`).
pub fn http_status(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unauthenticated => 401,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    }
}

/// The body of an error response with `convert_grpc_status`: the `google.rpc.Status` from
/// `grpc-status-details-bin` when the service sent one (details printed with their `@type`),
/// else one made from the code and message.
pub fn status_json(
    pool: &DescriptorPool,
    status: &tonic::Status,
    options: TranscoderOptions,
) -> Result<Vec<u8>, String> {
    let descriptor = pool
        .get_message_by_name("google.rpc.Status")
        .ok_or("google.rpc.Status is not in the descriptor set")?;
    let message = if status.details().is_empty() {
        let mut message = DynamicMessage::new(descriptor);
        message.set_field_by_name("code", Value::I32(status.code() as i32));
        message.set_field_by_name("message", Value::String(status.message().to_owned()));
        message
    } else {
        DynamicMessage::decode(descriptor, status.details())
            .map_err(|e| format!("grpc-status-details-bin is not a google.rpc.Status: {e}"))?
    };
    // Envoy prints the status with the print options of any response; a detail whose type is
    // not in the descriptor set fails here as it fails in Envoy.
    to_json(
        &message,
        TranscoderOptions {
            always_print_enums_as_ints: false,
            ..options
        },
    )
}
