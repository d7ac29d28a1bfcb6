import Testing
import Foundation
@testable import VGICScenario

let v3 = "vm gic=v3 vcpus=2"
let v2 = "vm gic=v2 vcpus=2"

/// The actions of `body` parsed under `header`.
func actions(_ body: String, header: String = v3) throws -> [Action] {
    try ScenarioParser.parse(header + "\n" + body).statements.map(\.action)
}

/// The one action of a single-statement `body`.
func action(_ body: String, header: String = v3) throws -> Action {
    let all = try actions(body, header: header)
    try #require(all.count == 1)
    return all[0]
}

/// The error the parser throws for `source`, or nil if it parses.
func parseError(_ source: String) -> ParseError? {
    do {
        _ = try ScenarioParser.parse(source)
        return nil
    } catch {
        return error
    }
}

/// A script that must not parse: the line and the token the error must name.
struct Rejected: Sendable, CustomTestStringConvertible {
    var source: String
    var line: Int
    /// nil: the error is at the end of the line.
    var token: String?

    /// `body` after a header, on line 2.
    init(_ body: String, header: String = v3, token: String?) {
        source = header + "\n" + body
        line = 2
        self.token = token
    }

    init(script: String, line: Int, token: String?) {
        source = script
        self.line = line
        self.token = token
    }

    var testDescription: String { source.replacingOccurrences(of: "\n", with: " | ") }
}

func check(_ r: Rejected, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let e = parseError(r.source) else {
        Issue.record("parsed, but must be rejected: \(r.source)", sourceLocation: sourceLocation)
        return
    }
    #expect(e.line == r.line, "\(e)", sourceLocation: sourceLocation)
    #expect(e.token == r.token, "\(e)", sourceLocation: sourceLocation)
}
