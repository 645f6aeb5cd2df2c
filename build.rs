//! Build script: with the `piper` feature, generates the ONNX protobuf types (src/synth/piper/onnx.proto) that
//! narrate uses to edit a voice's graph in memory. Needs `protoc` (Debian: protobuf-compiler).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "piper")]
    {
        println!("cargo:rerun-if-changed=src/synth/piper/onnx.proto");
        // `bytes` fields as `Bytes`: decoding a model from a `Bytes` buffer then shares its weights, not copies.
        let generated = prost_build::Config::new()
            .bytes(["."])
            .compile_protos(&["src/synth/piper/onnx.proto"], &["src/synth/piper"]);
        if let Err(e) = generated {
            panic!(
                "cannot generate the ONNX types from src/synth/piper/onnx.proto: {e}\n\
                 hint: the `piper` feature needs protoc: apt-get install protobuf-compiler (or set PROTOC)"
            );
        }
    }
}
