//! Every input the fuzzer ever crashed on (`testdata/fuzz/<target>/`, kept by `scripts/fuzz`)
//! and the seed inputs beside them, through the same target bodies: none may panic again.

use std::path::Path;

use xir_testkit::fuzzing::TARGETS;

#[test]
fn every_kept_fuzz_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/fuzz");
    let mut replayed = 0;
    for (name, target) in TARGETS {
        let dir = root.join(name);
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let input = std::fs::read(&path).expect("a kept input");
            target(&input);
            replayed += 1;
        }
    }
    assert!(
        replayed >= TARGETS.len(),
        "every target has at least its seed"
    );
    println!("{replayed} kept fuzz inputs replayed");
}
