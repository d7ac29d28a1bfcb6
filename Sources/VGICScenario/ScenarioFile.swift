import Foundation

/// Why a scenario failed at a line: `expected <what>, seen <what>`.
public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var expected: String
    public var seen: String

    public init(line: Int, expected: String, seen: String) {
        self.line = line
        self.expected = expected
        self.seen = seen
    }

    public var description: String { "expected \(expected), seen \(seen)" }
}

/// The outcome of one scenario file: `PASS path` or `FAIL path:LINE: ...`.
public struct FileReport: Equatable, Sendable, CustomStringConvertible {
    public var path: String
    /// nil when the file passed.
    public var failure: Failure?

    public var passed: Bool { failure == nil }

    public var description: String {
        guard let failure else { return "PASS \(path)" }
        return "FAIL \(path):\(failure.line): \(failure)"
    }
}

/// Reads, parses and runs scenario files.
public enum ScenarioFile {
    /// Parses and runs the script at `path`. With `trace`, each statement run
    /// is reported with what was observed (the `--verbose` report).
    /// `snapshots` gets each snapshot a `save` takes, with its line.
    public static func run(path: String, trace: ((Statement, String) -> Void)? = nil,
                           snapshots: ((Int, [UInt8]) -> Void)? = nil) -> FileReport {
        let source: String
        do {
            source = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            return FileReport(path: path, failure: Failure(line: 0, expected: "a readable UTF-8 scenario file",
                                                           seen: "\(error.localizedDescription)"))
        }
        return run(source: source, path: path, trace: trace, snapshots: snapshots)
    }

    /// Parses and runs a script held in memory; `path` only names it.
    public static func run(source: String, path: String, trace: ((Statement, String) -> Void)? = nil,
                           snapshots: ((Int, [UInt8]) -> Void)? = nil) -> FileReport {
        let scenario: Scenario
        do {
            scenario = try ScenarioParser.parse(source)
        } catch {
            return FileReport(path: path, failure: Failure(line: error.line, expected: error.expected,
                                                           seen: error.token.map { "'\($0)'" } ?? "end of line"))
        }
        var runner = Runner(scenario: scenario)
        runner.onSave = snapshots
        return FileReport(path: path, failure: runner.run(trace: trace ?? { _, _ in }))
    }
}
