// Command envoycheck validates Envoy bootstrap configurations the way Envoy would at start,
// without running Envoy: every field is decoded strictly into go-control-plane's generated
// API types (an unknown or misspelt field fails), every typed_config is resolved and decoded
// too, and the protoc-gen-validate rules of every message are checked (ValidateAll). With
// -descriptor it also checks that every service the gRPC-JSON transcoder names is in the
// descriptor set, which Envoy otherwise reports only when the listener is created.
//
// Usage: envoycheck [-descriptor xir_descriptor.bin] envoy.yaml...
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	transcoderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	// The extensions envoy.yaml configures: importing them registers their types, so that
	// protojson can resolve each typed_config's "@type".
	_ "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// validator is what protoc-gen-validate generates on every Envoy message.
type validator interface{ ValidateAll() error }

func main() {
	descriptorPath := flag.String("descriptor", "", "descriptor set the transcoder reads (checks its services)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: envoycheck [-descriptor xir_descriptor.bin] envoy.yaml...")
		os.Exit(2)
	}
	var services map[string]bool
	if *descriptorPath != "" {
		var err error
		if services, err = readServices(*descriptorPath); err != nil {
			fmt.Fprintf(os.Stderr, "envoycheck: %s: %v\n", *descriptorPath, err)
			os.Exit(1)
		}
	}
	failed := false
	for _, path := range flag.Args() {
		if err := check(path, services); err != nil {
			fmt.Fprintf(os.Stderr, "envoycheck: %s: %v\n", path, err)
			failed = true
			continue
		}
		fmt.Printf("envoycheck: %s: valid\n", path)
	}
	if failed {
		os.Exit(1)
	}
}

func check(path string, services map[string]bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	asJSON, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	var bootstrap bootstrapv3.Bootstrap
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(asJSON, &bootstrap); err != nil {
		return fmt.Errorf("not an Envoy v3 bootstrap: %w", err)
	}
	return validateTree(bootstrap.ProtoReflect(), services)
}

// validateTree runs ValidateAll on m, which covers every message embedded in it except the
// contents of Any fields (typed_config): those are unpacked and validated the same way.
func validateTree(m protoreflect.Message, services map[string]bool) error {
	var errs []error
	if v, ok := m.Interface().(validator); ok {
		if err := v.ValidateAll(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Descriptor().FullName(), err))
		}
	}
	errs = append(errs, validateAnys(m, services))
	return errors.Join(errs...)
}

// validateAnys finds the Any fields below m and validates what they hold.
func validateAnys(m protoreflect.Message, services map[string]bool) error {
	if t, ok := m.Interface().(*transcoderv3.GrpcJsonTranscoder); ok && services != nil {
		for _, name := range t.GetServices() {
			if !services[name] {
				return fmt.Errorf("grpc_json_transcoder names service %q, which the descriptor set does not define", name)
			}
		}
	}
	if any, ok := m.Interface().(*anypb.Any); ok {
		inner, err := any.UnmarshalNew()
		if err != nil {
			return fmt.Errorf("typed_config %s: %w", any.GetTypeUrl(), err)
		}
		return validateTree(inner.ProtoReflect(), services)
	}
	var errs []error
	m.Range(func(field protoreflect.FieldDescriptor, value protoreflect.Value) bool {
		switch {
		case field.IsList() && field.Kind() == protoreflect.MessageKind:
			list := value.List()
			for i := 0; i < list.Len(); i++ {
				errs = append(errs, validateAnys(list.Get(i).Message(), services))
			}
		case field.IsMap() && field.MapValue().Kind() == protoreflect.MessageKind:
			value.Map().Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
				errs = append(errs, validateAnys(v.Message(), services))
				return true
			})
		case !field.IsList() && !field.IsMap() && field.Kind() == protoreflect.MessageKind:
			errs = append(errs, validateAnys(value.Message(), services))
		}
		return true
	})
	return errors.Join(errs...)
}

// readServices lists the fully qualified services defined in a FileDescriptorSet.
func readServices(path string) (map[string]bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("not a FileDescriptorSet: %w", err)
	}
	services := map[string]bool{}
	for _, file := range set.GetFile() {
		for _, service := range file.GetService() {
			services[file.GetPackage()+"."+service.GetName()] = true
		}
	}
	return services, nil
}
