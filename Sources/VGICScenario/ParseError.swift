/// A script the parser refuses: the line, the offending token (nil at the end
/// of a line or of the file) and what the grammar wanted there.
public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    /// The token as written; nil when the line (or file) ended too early.
    public var token: String?
    /// What the grammar expected instead, e.g. "a width w=8|16|32|64".
    public var expected: String

    public init(line: Int, token: String?, expected: String) {
        self.line = line
        self.token = token
        self.expected = expected
    }

    /// `expected <what>, seen '<token>'`: the `<expected> <seen>` part of a
    /// `FAIL path:LINE:` report.
    public var description: String {
        "expected \(expected), seen \(token.map { "'\($0)'" } ?? "end of line")"
    }
}
