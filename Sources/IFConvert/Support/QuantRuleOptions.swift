import ArgumentParser
import IFQuant

extension QuantRule {
    /// The rules of repeated `--rule REGEX=TYPE` options (`convert`, `quantize`), in order; a
    /// malformed one is a usage error naming what is wrong.
    static func fromOptions(_ texts: [String]) throws -> [QuantRule] {
        var rules: [QuantRule] = []
        for text in texts {
            do { rules.append(try QuantRule(parsing: text)) } catch { throw ValidationError(error.description) }
        }
        return rules
    }
}
