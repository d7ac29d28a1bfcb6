import GICArchitecture

// `cpu N its COMMAND ...`: the ITS commands as script text
// (docs/scenarios-its.md), and back.

enum ITSCommandText {
    /// The option keys each command takes, in the order they are printed.
    static func keys(_ name: Substring) -> [String]? {
        switch name {
        case "mapd": ["dev", "itt", "bits", "v"]
        case "mapc": ["icid", "rd", "v"]
        case "mapti": ["dev", "event", "lpi", "icid"]
        case "mapi", "movi": ["dev", "event", "icid"]
        case "int", "clear", "inv", "discard": ["dev", "event"]
        case "invall": ["icid"]
        case "sync": ["rd"]
        case "movall": ["rd", "rd2"]
        default: nil
        }
    }

    static let names = "mapd, mapc, mapti, mapi, movi, int, clear, inv, discard, invall, sync, movall or raw"

    /// Parses what follows `its`.
    static func parse(_ c: inout Cursor) throws(ParseError) -> ITSCommand {
        let name = try c.next(expecting: "an ITS command (\(names))")
        if name == "raw" {
            var words: [UInt64] = []
            for _ in 0..<4 {
                let t = try c.next(expecting: "four doublewords DW0 DW1 DW2 DW3")
                words.append(try c.value(t, width: .bits64))
            }
            try c.end()
            return ITSCommand(dw0: words[0], dw1: words[1], dw2: words[2], dw3: words[3])
        }
        guard let keys = keys(name) else { throw c.error(at: name, "an ITS command (\(names))") }
        let o = try c.options(keys)
        func number(_ key: String, max: UInt64, required: Bool = true) throws(ParseError) -> UInt64? {
            guard let t = o.tokens[key] else {
                if required { throw c.error(at: nil, "\(key)=N for \(name)") }
                return nil
            }
            guard let v = Number.parse(o.value(key)!), v <= max else {
                throw c.error(at: t, "\(key)=N, at most \(hex(max))")
            }
            return v
        }
        let u32 = UInt64(UInt32.max)
        switch name {
        case "mapd":
            let device = UInt32(try number("dev", max: u32)!)
            let itt = try number("itt", max: 0x000F_FFFF_FFFF_FFFF)!
            if itt & 0xFF != 0 { throw c.error(at: o.tokens["itt"], "itt=ADDR, 256-byte aligned") }
            let bits = UInt32(try number("bits", max: 32)!)
            if bits == 0 { throw c.error(at: o.tokens["bits"], "bits=1..32") }
            let valid = try number("v", max: 1, required: false) ?? 1
            return .mapd(device: device, ittAddress: itt, eventIDBits: bits, valid: valid == 1)
        case "mapc":
            let icid = UInt16(try number("icid", max: 0xFFFF)!)
            let rd = UInt32(try number("rd", max: u32)!)
            let valid = try number("v", max: 1, required: false) ?? 1
            return .mapc(icid: icid, target: rd, valid: valid == 1)
        case "mapti":
            return .mapti(device: UInt32(try number("dev", max: u32)!), event: UInt32(try number("event", max: u32)!),
                          lpi: UInt32(try number("lpi", max: u32)!), icid: UInt16(try number("icid", max: 0xFFFF)!))
        case "mapi", "movi":
            let device = UInt32(try number("dev", max: u32)!)
            let event = UInt32(try number("event", max: u32)!)
            let icid = UInt16(try number("icid", max: 0xFFFF)!)
            return name == "mapi" ? .mapi(device: device, event: event, icid: icid)
                : .movi(device: device, event: event, icid: icid)
        case "invall":
            return .invall(icid: UInt16(try number("icid", max: 0xFFFF)!))
        case "sync":
            return .sync(target: UInt32(try number("rd", max: u32)!))
        case "movall":
            return .movall(from: UInt32(try number("rd", max: u32)!), to: UInt32(try number("rd2", max: u32)!))
        default:
            let code: ITSCommandCode = switch name {
            case "int": .int
            case "clear": .clear
            case "inv": .inv
            default: .discard
            }
            return .event(code, device: UInt32(try number("dev", max: u32)!),
                          event: UInt32(try number("event", max: u32)!))
        }
    }

    /// The command as it follows `its`: by name when that form gives back
    /// exactly these 32 bytes, else `raw`.
    static func text(_ c: ITSCommand) -> String {
        let raw = "raw \(hex(c.dw0)) \(hex(c.dw1)) \(hex(c.dw2)) \(hex(c.dw3))"
        guard let code = ITSCommandCode(rawValue: c.code) else { return raw }
        let named: (String, ITSCommand)
        switch code {
        case .mapd:
            named = ("mapd dev=\(c.deviceID) itt=\(hex(c.ittAddress)) bits=\(c.eventIDBits)\(c.valid ? "" : " v=0")",
                     .mapd(device: c.deviceID, ittAddress: c.ittAddress, eventIDBits: c.eventIDBits, valid: c.valid))
        case .mapc:
            named = ("mapc icid=\(c.icid) rd=\(c.targetAddress)\(c.valid ? "" : " v=0")",
                     .mapc(icid: c.icid, target: c.targetAddress, valid: c.valid))
        case .mapti:
            named = ("mapti dev=\(c.deviceID) event=\(c.eventID) lpi=\(c.physicalID) icid=\(c.icid)",
                     .mapti(device: c.deviceID, event: c.eventID, lpi: c.physicalID, icid: c.icid))
        case .mapi:
            named = ("mapi dev=\(c.deviceID) event=\(c.eventID) icid=\(c.icid)",
                     .mapi(device: c.deviceID, event: c.eventID, icid: c.icid))
        case .movi:
            named = ("movi dev=\(c.deviceID) event=\(c.eventID) icid=\(c.icid)",
                     .movi(device: c.deviceID, event: c.eventID, icid: c.icid))
        case .int, .clear, .inv, .discard:
            let n = code == .int ? "int" : (code == .clear ? "clear" : (code == .inv ? "inv" : "discard"))
            named = ("\(n) dev=\(c.deviceID) event=\(c.eventID)", .event(code, device: c.deviceID, event: c.eventID))
        case .invall:
            named = ("invall icid=\(c.icid)", .invall(icid: c.icid))
        case .sync:
            named = ("sync rd=\(c.targetAddress)", .sync(target: c.targetAddress))
        case .movall:
            named = ("movall rd=\(c.targetAddress) rd2=\(c.targetAddress2)",
                     .movall(from: c.targetAddress, to: c.targetAddress2))
        }
        return named.1 == c ? named.0 : raw
    }
}
