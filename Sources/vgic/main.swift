import ArgumentParser
import Foundation
import VGICScenario

struct VGICTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vgic",
        abstract: "The hosted vGIC and its tools.",
        subcommands: [ScenarioCommand.self, SnapshotCommand.self])
}

struct ScenarioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenario",
        abstract: "Run scenario scripts on the hosted vGIC over the GIC hardware model.",
        discussion: """
            Prints `PASS path` or `FAIL path:LINE: expected ..., seen ...` for each file, \
            stops a file at its first failure, and exits non-zero if any file failed \
            or could not be parsed. The language is described in docs/scenarios.md.
            """)

    @Flag(name: .shortAndLong, help: "Print each statement with what was observed.")
    var verbose = false

    @Option(name: .customLong("save-snapshots"), help: ArgumentHelp(
        "Write the snapshot each `save` takes to DIR/NAME.lineN.snap (NAME: the file's name without .vgs).",
        valueName: "DIR"))
    var snapshotDirectory: String?

    @Argument(help: "Scenario files (.vgs).")
    var files: [String]

    func run() throws {
        if let dir = snapshotDirectory {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        var failed = 0
        for path in files {
            let report: FileReport
            var writeError: String?
            let snapshots: ((Int, [UInt8]) -> Void)? = snapshotDirectory.map { dir in
                { line, bytes in
                    let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
                    let file = URL(fileURLWithPath: dir).appendingPathComponent("\(name).line\(line).snap")
                    do {
                        try Data(bytes).write(to: file)
                    } catch {
                        writeError = "\(file.path): \(error.localizedDescription)"
                    }
                }
            }
            if verbose {
                print("== \(path)")
                report = ScenarioFile.run(path: path, trace: { statement, observed in
                    let text = "  \(statement.line): \(statement.text)"
                    print(observed.isEmpty ? text : text.padding(toLength: max(text.count, 56), withPad: " ",
                                                                 startingAt: 0) + "  => " + observed)
                }, snapshots: snapshots)
            } else {
                report = ScenarioFile.run(path: path, snapshots: snapshots)
            }
            if let writeError {
                throw ValidationError("cannot write a snapshot: \(writeError)")
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

struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Work with vGIC snapshot files (format: docs/snapshot.md).",
        subcommands: [InspectCommand.self])
}

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a snapshot for a person: per vCPU and per interrupt, only what is not at its reset value.",
        discussion: "Exits non-zero, naming the problem, if the file is not a valid snapshot.")

    @Argument(help: "A snapshot file (`vgic scenario --save-snapshots DIR` writes some).")
    var file: String

    func run() throws {
        do {
            print(try SnapshotReport.inspect(path: file))
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode.failure
        }
    }
}

VGICTool.main()
