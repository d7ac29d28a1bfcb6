/// Executes a parsed scenario on the hosted vGIC over the GIC hardware model
/// (`SCENARIOS.md`, "Time").
struct Runner {
    let scenario: Scenario

    init(scenario: Scenario) {
        self.scenario = scenario
    }

    /// Runs every statement in order and returns the first failure, or nil.
    mutating func run(trace: (Statement, String) -> Void) -> Failure? {
        // The VGIC and GICModel modules have no API yet: nothing can execute.
        Failure(line: scenario.machine.line, expected: "a vGIC to run on",
                seen: "none (the VGIC and GICModel APIs have not landed in this build)")
    }
}
