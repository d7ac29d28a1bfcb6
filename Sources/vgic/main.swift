import ArgumentParser
import VGICScenario

struct VGICTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vgic",
        abstract: "The hosted vGIC and its tools.",
        subcommands: [ScenarioCommand.self])
}

struct ScenarioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenario",
        abstract: "Run scenario scripts on the hosted vGIC over the GIC hardware model.",
        discussion: """
            Prints `PASS path` or `FAIL path:LINE: expected ..., seen ...` for each file, \
            stops a file at its first failure, and exits non-zero if any file failed \
            or could not be parsed. The language is described in SCENARIOS.md.
            """)

    @Flag(name: .shortAndLong, help: "Print each statement with what was observed.")
    var verbose = false

    @Argument(help: "Scenario files (.vgs).")
    var files: [String]

    func run() throws {
        var failed = 0
        for path in files {
            let report: FileReport
            if verbose {
                print("== \(path)")
                report = ScenarioFile.run(path: path) { statement, observed in
                    let text = "  \(statement.line): \(statement.text)"
                    print(observed.isEmpty ? text : text.padding(toLength: max(text.count, 56), withPad: " ",
                                                                 startingAt: 0) + "  => " + observed)
                }
            } else {
                report = ScenarioFile.run(path: path)
            }
            print(report)
            if !report.passed { failed += 1 }
        }
        if verbose {
            print("\(files.count - failed) passed, \(failed) failed")
        }
        if failed > 0 { throw ExitCode.failure }
    }
}

VGICTool.main()
