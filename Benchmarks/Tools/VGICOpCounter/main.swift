// Runs N iterations of one vGIC operation, for exact instruction counts with
// callgrind (scripts/instructions.sh): a run with N and one with 2N differ by
// exactly N operations, whatever start-up and set-up cost.
//
//   VGICOpCounter list               the operations, one per line: name<TAB>title
//   VGICOpCounter OPERATION N        set up, warm up, then N operations
//
// Not a package-benchmark target: it lives outside the folder the benchmark
// plugin scans (its parent folder is not named `Benchmarks`).

import VGICWorkloads

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func usage() -> Never {
    let names = VGICOperation.allCases.map(\.rawValue).joined(separator: " ")
    print("usage: VGICOpCounter list | VGICOpCounter OPERATION N\noperations: \(names)")
    exit(2)
}

let args = CommandLine.arguments
if args.count == 2 && args[1] == "list" {
    for op in VGICOperation.allCases { print("\(op.rawValue)\t\(op.title)") }
    exit(0)
}
guard args.count == 3, let op = VGICOperation(rawValue: args[1]), let n = Int(args[2]), n >= 0 else { usage() }

let workload: VGICWorkload
do {
    workload = try VGICWorkload(op)
} catch {
    print("VGICOpCounter: cannot build the VM: \(error)")
    exit(1)
}
workload.run(n)
if let problem = workload.problems() {
    print("VGICOpCounter: \(problem)")
    exit(1)
}
print("\(op.rawValue) \(n) ok")
