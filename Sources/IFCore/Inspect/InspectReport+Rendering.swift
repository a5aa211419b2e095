import SafetensorsReader

extension InspectReport {
    // MARK: JSON (schema documented in docs/CLI.md)

    public func json() -> JSONValue {
        var root = JSONObject()
        root.append("schema_version", .int(Self.schemaVersion))
        root.append("path", .string(path))
        root.append("format", .string(format))
        root.append("layout", .string(layout.rawValue))
        root.append("variant", variant.map(JSONValue.string) ?? .null)
        root.append("pipeline_class", pipelineClass.map(JSONValue.string) ?? .null)
        root.append("tensor_count", .int(tensorCount))
        root.append("parameter_count", .int(parameterCount))
        root.append("byte_count", .int(byteCount))
        root.append("bytes_by_dtype", Self.bytesByDTypeJSON(sources.flatMap(\.tensors)))
        root.append("components", .array(components.map(Self.json(component:))))
        root.append("original_checkpoint", original.map(Self.json(original:)) ?? .null)
        var tensors: [JSONValue] = []
        let parts: [(String?, Source)] = components.compactMap { c in c.source.map { (c.name, $0) } }
            + (original?.source.map { [("original", $0)] } ?? [])
        for (component, source) in parts {
            for tensor in source.tensors {
                var object = JSONObject()
                object.append("component", layout == .pipeline || layout == .original ? component.map(JSONValue.string) ?? .null : .null)
                object.append("name", .string(tensor.name))
                object.append("dtype", .string(tensor.dtype.rawValue))
                object.append("shape", .ints(tensor.shape))
                object.append("byte_count", .int(tensor.byteCount))
                object.append("file", .string(tensor.file))
                tensors.append(.object(object))
            }
        }
        root.append("tensors", .array(tensors))
        return .object(root)
    }

    private static func bytesByDTypeJSON(_ tensors: [Tensor]) -> JSONValue {
        let source = Source(format: "", files: [], metadata: [:], tensors: tensors)
        return .object(JSONObject(source.bytesByDType.map { ($0.0.rawValue, JSONValue.int($0.1)) }))
    }

    private static func json(source: Source) -> [(String, JSONValue)] {
        [
            ("format", .string(source.format)),
            ("files", .array(source.files.map(JSONValue.string))),
            ("tensor_count", .int(source.tensors.count)),
            ("parameter_count", .int(source.parameterCount)),
            ("byte_count", .int(source.byteCount)),
            ("bytes_by_dtype", bytesByDTypeJSON(source.tensors)),
            ("metadata", .object(JSONObject(source.metadata.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))),
            ("state_dict_prefix", source.stateDictPrefix.map(JSONValue.string) ?? .null),
            ("skipped_objects", .array(source.skippedObjects.map { skipped in
                .object(JSONObject([("path", .string(skipped.path)), ("global", .string(skipped.global))]))
            })),
        ]
    }

    private static func json(component: Component) -> JSONValue {
        var object = JSONObject()
        object.append("name", .string(component.name))
        object.append("library", component.library.map(JSONValue.string) ?? .null)
        object.append("class", component.className.map(JSONValue.string) ?? .null)
        object.append("config", component.configPath.map(JSONValue.string) ?? .null)
        object.append("weights", component.weights.map { w in
            .object(JSONObject([("kind", .string(w.kind.rawValue)), ("path", .string(w.path)),
                                ("variant", component.weightsVariant.map(JSONValue.string) ?? .null),
                                ("variant_fallback", .bool(component.usedVariantFallback))]))
        } ?? .null)
        if let source = component.source { for (key, value) in json(source: source) { object.append(key, value) } }
        object.append("skipped", component.skipped.map(JSONValue.string) ?? .null)
        return .object(object)
    }

    private static func json(original: Original) -> JSONValue {
        var object = JSONObject()
        object.append("config", original.checkpoint.configPath.map(JSONValue.string) ?? .null)
        object.append("weights", original.checkpoint.weights.map { .string($0.path) } ?? .null)
        object.append("weights_byte_count", original.weightsByteCount.map(JSONValue.int) ?? .null)
        if let source = original.source { for (key, value) in json(source: source) { object.append(key, value) } }
        object.append("skipped", original.skipped.map(JSONValue.string) ?? .null)
        object.append("implies", original.implied?.json ?? .null)
        object.append("mapping_error", original.mappingError.map(JSONValue.string) ?? .null)
        return .object(object)
    }

    // MARK: Human-readable

    public func humanText() -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }
        line("path        \(path)")
        var formatLine = format
        if let pipelineClass { formatLine += " (\(pipelineClass))" }
        if let variant { formatLine += ", variant \(variant)" }
        line("format      \(formatLine)")
        line("tensors     \(tensorCount)")
        line("parameters  \(Self.grouped(parameterCount))")
        line("bytes       \(Self.grouped(byteCount)) (\(Self.human(byteCount)))")
        let byDType = Source(format: "", files: [], metadata: [:], tensors: sources.flatMap(\.tensors)).bytesByDType
        if !byDType.isEmpty {
            line("by dtype    " + byDType.map { "\($0.0.rawValue) \(Self.grouped($0.1))" }.joined(separator: ", "))
        }
        if let original {
            var text = [original.checkpoint.configPath, original.checkpoint.weights?.path].compactMap { $0.map(WeightsFile.fileName(of:)) }.joined(separator: " + ")
            if let size = original.weightsByteCount { text += " (\(Self.human(size)))" }
            if let skipped = original.skipped { text += "; not listed: \(skipped)" }
            line("original    \(text)")
            if let implied = original.implied { line("            \(implied.text)") }
            if let error = original.mappingError { line("            does not map onto diffusers: \(error)") }
        }
        if layout == .pipeline {
            line()
            var rows = [["component", "class", "weights", "tensors", "parameters"]]
            for c in components {
                let cls = [c.library, c.className].compactMap { $0 }.joined(separator: ".")
                var weights = c.weights.map { $0.fileName } ?? "-"
                if c.usedVariantFallback { weights += " (variant \(c.weightsVariant ?? "none") picked)" }
                rows.append([c.name, cls, weights,
                             c.source.map { String($0.tensors.count) } ?? (c.skipped == nil ? "-" : "skipped"),
                             c.source.map { Self.grouped($0.parameterCount) } ?? "-"])
            }
            out += Self.table(rows, rightAligned: [3, 4])
        }
        for c in components {
            guard c.weights != nil else { continue }
            line()
            let location = c.weights?.path ?? ""
            if let source = c.source {
                line("== \(c.name): \(source.format), \(location)")
                renderSource(source, into: &out)
            } else if let skipped = c.skipped {
                line("== \(c.name): \(location)")
                line("not listed: \(skipped)")
            }
        }
        if let source = original?.source {
            line()
            line("== original: \(source.format), \(original?.checkpoint.weights?.path ?? "")")
            renderSource(source, into: &out)
        }
        return out
    }

    private func renderSource(_ source: Source, into out: inout String) {
        out += "tensors \(source.tensors.count), parameters \(Self.grouped(source.parameterCount)), bytes \(Self.grouped(source.byteCount))"
        out += " (" + source.bytesByDType.map { "\($0.0.rawValue) \(Self.human($0.1))" }.joined(separator: ", ") + ")\n"
        if source.files.count > 1 { out += "files " + source.files.map(WeightsFile.fileName(of:)).joined(separator: ", ") + "\n" }
        if let prefix = source.stateDictPrefix { out += "state dict under '\(prefix)'\n" }
        if !source.skippedObjects.isEmpty {
            out += "skipped objects (globals outside the allowlist, never built): \(source.skippedObjects.count)\n"
            out += Self.table([["path", "global"]] + source.skippedObjects.map { [$0.path, $0.global] }, rightAligned: [])
        }
        var rows = [["name", "dtype", "shape", "bytes"]]
        for tensor in source.tensors {
            rows.append([tensor.name, tensor.dtype.rawValue, "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]", Self.grouped(tensor.byteCount)])
        }
        out += Self.table(rows, rightAligned: [3])
    }

    static func table(_ rows: [[String]], rightAligned: Set<Int>) -> String {
        guard let columns = rows.first?.count else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var out = ""
        for row in rows {
            var cells: [String] = []
            for (i, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                if rightAligned.contains(i) { cells.append(pad + cell) } else if i == columns - 1 { cells.append(cell) } else { cells.append(cell + pad) }
            }
            out += cells.joined(separator: "  ") + "\n"
        }
        return out
    }

    /// 1234567 -> "1,234,567".
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// Bytes in binary units with one decimal: "11.5 GiB".
    static func human(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        if unit == 0 { return "\(bytes) B" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}
