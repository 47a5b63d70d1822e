fn main() -> std::process::ExitCode {
    xir_common::bootstrap::main::<svc_auth::startup::Application>()
}
