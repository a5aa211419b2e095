import Testing
import SafetensorsReader

@Suite struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8), path: "t.json") }

    @Test func parsesValuesKeepingOrderAndSpelling() throws {
        let value = try parse(#" {"z": [1, -2.5e3, 18446744073709551617], "a": {"t": true, "f": false, "n": null}, "s": "x\"\\\/\b\f\n\r\tA\u00e9\ud83d\ude00"} "#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["z", "a", "s"])
        #expect(object["z"] == .array([.number("1"), .number("-2.5e3"), .number("18446744073709551617")]))
        #expect(object["z"]?.arrayValue?[2].nonNegativeIntValue == nil)  // too large for Int
        #expect(object["a"] == .object(JSONObject([("t", .bool(true)), ("f", .bool(false)), ("n", .null)])))
        #expect(object["s"]?.stringValue == "x\"\\/\u{08}\u{0C}\n\r\tAé😀")
    }

    @Test func writerRoundTrips() throws {
        let original = try parse(#"{"a":[1,2,{"b":"\u0001\"q\""}],"c":{},"d":[]}"#)
        #expect(try parse(original.serialized()) == original)
        #expect(try parse(original.serialized(pretty: true)) == original)
        #expect(original.serialized() == #"{"a":[1,2,{"b":"\u0001\"q\""}],"c":{},"d":[]}"#)
    }

    @Test(arguments: [
        ("{\"a\":1,\"a\":2}", "duplicate key 'a'"),
        ("{\"a\":1,}", "expected a member name string"),
        ("[1 2]", "expected ',' or ']' in array"),
        ("01", "after the end of the JSON value"),
        ("1.", "expected a digit after '.'"),
        ("-", "expected a digit"),
        ("\"abc", "unterminated string"),
        ("\"a\u{01}\"", "unescaped control character"),
        ("\"\\x\"", "invalid escape"),
        ("\"\\ud800\"", "unpaired surrogate"),
        ("tru", "truncated literal"),
        ("nul!", "invalid literal"),
        ("", "unexpected end of input"),
        ("{} x", "unexpected 'x' after the end"),
        (String(repeating: "[", count: 200), "nesting deeper than 128 levels"),
    ])
    func rejects(_ text: String, _ fragment: String) {
        let message = errorDescription { _ = try parse(text) }
        #expect(message?.contains(fragment) == true, "\(text): \(message ?? "no error")")
        #expect(message?.hasPrefix("t.json: invalid JSON at byte ") == true)
    }
}
