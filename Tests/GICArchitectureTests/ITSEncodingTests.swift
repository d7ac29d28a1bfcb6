import GICArchitecture
import Testing

// The ITS and LPI encodings against Arm IHI 0069 (chapters 5 and 12: GITS_*,
// the command formats, GICR_PROPBASER/PENDBASER, the LPI configuration byte)
// and KVM's ITS table ABI revision 0
// (Documentation/virt/kvm/devices/arm-vgic-its.rst), written out as literals.

@Suite struct ITSRegisterLayout {
    @Test func offsets() {
        let expected: [(UInt32, UInt32)] = [
            (GITS.ctlr, 0x0000), (GITS.iidr, 0x0004), (GITS.typer, 0x0008), (GITS.cbaser, 0x0080),
            (GITS.cwriter, 0x0088), (GITS.creadr, 0x0090), (GITS.baser, 0x0100), (GITS.pidr2, 0xFFE8),
            (GITS.idRegisters, 0xFFD0), (GITS.translationPage, 0x1_0000), (GITS.translater, 0x1_0040),
            (GITS.frameSize, 0x2_0000),
        ]
        for (got, want) in expected { #expect(got == want) }
    }

    /// GITS_CTLR: 0 Enabled, 31 Quiescent. GITS_TYPER: 0 Physical,
    /// 7:4 ITT_entry_size, 12:8 ID_bits, 17:13 Devbits.
    @Test func controlAndTypeFields() {
        #expect(GITS.ctlrEnabled == 0x1)
        #expect(GITS.ctlrQuiescent == 0x8000_0000)
        #expect(GITS.typerPhysical == 0x1)
        #expect(GITS.typerITTEntrySizeShift == 4)
        #expect(GITS.typerIDbitsShift == 8)
        #expect(GITS.typerDevbitsShift == 13)
    }

    /// GITS_CBASER: 63 Valid, 51:12 Physical_Address, 7:0 Size (4 KiB pages
    /// - 1). GITS_CWRITER/CREADR: 19:5 Offset. A command is 32 bytes.
    @Test func commandQueue() {
        #expect(GITS.cbaserValid == 0x8000_0000_0000_0000)
        #expect(GITS.cbaserAddressMask == 0x000F_FFFF_FFFF_F000)
        #expect(GITS.queueOffsetMask == 0x000F_FFE0)
        #expect(GITS.commandSize == 32)
        #expect(GITS.commandQueueSize(0x8000_0000_4000_0000) == 0x1000)
        #expect(GITS.commandQueueSize(0x8000_0000_4000_00FF) == 0x10_0000)
    }

    /// GITS_BASER<n>: 63 Valid, 62 Indirect, 58:56 Type (1 devices,
    /// 4 collections), 52:48 Entry_Size, 9:8 Page_Size (0b10: 64 KiB), 7:0
    /// Size; with 64 KiB pages the address is 47:16 and PA[51:48] in 15:12.
    @Test func tableRegisters() {
        #expect(GITS.baserValid == 0x8000_0000_0000_0000)
        #expect(GITS.baserIndirect == 0x4000_0000_0000_0000)
        #expect(GITS.baserTypeShift == 56 && GITS.baserTypeMask == 0x0700_0000_0000_0000)
        #expect(GITS.baserEntrySizeShift == 48 && GITS.baserEntrySizeMask == 0x001F_0000_0000_0000)
        #expect(GITS.baserPageSizeShift == 8 && GITS.baserPageSizeMask == 0x300)
        #expect(GITS.baserPageSize64K == 0x200)
        #expect(GITS.baserSizeMask == 0xFF)
        #expect(GITS.baserTypeDevice == 1 && GITS.baserTypeCollection == 4)
        #expect(GITS.baserAddress(0x8000_1234_5678_A000) == 0x000A_1234_5678_0000)
        #expect(GITS.baserTableSize(0x8000_0000_0000_0000) == 0x1_0000)
        #expect(GITS.baserTableSize(0x8000_0000_0000_0003) == 0x4_0000)
        #expect(GITS.level1Valid == 0x8000_0000_0000_0000)
        #expect(GITS.level1AddressMask == 0x000F_FFFF_FFFF_0000)
    }
}

@Suite struct ITSCommandEncoding {
    @Test func codes() {
        let expected: [(ITSCommandCode, UInt8, String)] = [
            (.movi, 0x01, "MOVI"), (.int, 0x03, "INT"), (.clear, 0x04, "CLEAR"), (.sync, 0x05, "SYNC"),
            (.mapd, 0x08, "MAPD"), (.mapc, 0x09, "MAPC"), (.mapti, 0x0A, "MAPTI"), (.mapi, 0x0B, "MAPI"),
            (.inv, 0x0C, "INV"), (.invall, 0x0D, "INVALL"), (.movall, 0x0E, "MOVALL"),
            (.discard, 0x0F, "DISCARD"),
        ]
        #expect(ITSCommandCode.allCases.count == expected.count)
        for (code, raw, name) in expected {
            #expect(code.rawValue == raw)
            #expect("\(code.name)" == name)
        }
    }

    /// DW0 7:0 command, 63:32 DeviceID; DW1 4:0 Size; DW2 51:8 ITT_addr, 63 V.
    @Test func mapd() {
        let c = ITSCommand.mapd(device: 0x1234, ittAddress: 0x0008_0000_0012_3400, eventIDBits: 5)
        #expect(c == ITSCommand(dw0: 0x0000_1234_0000_0008, dw1: 0x4, dw2: 0x8008_0000_0012_3400))
        #expect(ITSCommand.mapd(device: 1, ittAddress: 0, eventIDBits: 1, valid: false).dw2 == 0)
    }

    /// DW2 15:0 ICID, 50:16 RDbase, 63 V.
    @Test func mapc() {
        #expect(ITSCommand.mapc(icid: 0x0102, target: 3) == ITSCommand(dw0: 0x09, dw2: 0x8000_0000_0003_0102))
    }

    /// DW1 31:0 EventID, 63:32 pINTID (MAPTI); DW2 15:0 ICID.
    @Test func eventCommands() {
        #expect(ITSCommand.mapti(device: 7, event: 0x20, lpi: 8192, icid: 2)
                == ITSCommand(dw0: 0x0000_0007_0000_000A, dw1: 0x0000_2000_0000_0020, dw2: 2))
        #expect(ITSCommand.mapi(device: 7, event: 0x21, icid: 1)
                == ITSCommand(dw0: 0x0000_0007_0000_000B, dw1: 0x21, dw2: 1))
        #expect(ITSCommand.movi(device: 7, event: 1, icid: 5)
                == ITSCommand(dw0: 0x0000_0007_0000_0001, dw1: 1, dw2: 5))
        #expect(ITSCommand.event(.int, device: 0xFFFF_FFFF, event: 0xFFFF_FFFF)
                == ITSCommand(dw0: 0xFFFF_FFFF_0000_0003, dw1: 0x0000_0000_FFFF_FFFF))
        #expect(ITSCommand.event(.discard, device: 2, event: 9) == ITSCommand(dw0: 0x0000_0002_0000_000F, dw1: 9))
    }

    /// INVALL: DW2 15:0 ICID. SYNC: DW2 50:16 RDbase. MOVALL: DW2 and DW3 50:16.
    @Test func collectionAndTargetCommands() {
        #expect(ITSCommand.invall(icid: 0xFFFF) == ITSCommand(dw0: 0x0D, dw2: 0xFFFF))
        #expect(ITSCommand.sync(target: 2) == ITSCommand(dw0: 0x05, dw2: 0x2_0000))
        #expect(ITSCommand.movall(from: 1, to: 3) == ITSCommand(dw0: 0x0E, dw2: 0x1_0000, dw3: 0x3_0000))
    }

    @Test func fieldsOfARawCommand() {
        let c = ITSCommand(dw0: 0xAAAA_BBBB_0000_0008, dw1: 0x1111_2222_3333_4444,
                           dw2: 0x8000_4567_89AB_CDEF, dw3: 0x0000_0000_0007_0000)
        #expect(c.code == 0x08)
        #expect(c.deviceID == 0xAAAA_BBBB)
        #expect(c.eventID == 0x3333_4444)
        #expect(c.physicalID == 0x1111_2222)
        #expect(c.eventIDBits == 5)
        #expect(c.icid == 0xCDEF)
        #expect(c.ittAddress == 0x0000_4567_89AB_CD00)
        #expect(c.targetAddress == 0x4567_89AB)
        #expect(c.targetAddress2 == 7)
        #expect(c.valid)
    }
}

/// KVM's ITS table entries, 8 bytes each:
///   device (DTE)      63 V | 62:49 Next | 48:5 ITT_addr[52:8] | 4:0 Size
///   collection (CTE)  63 V | 62:52 RES0 | 51:16 RDBase | 15:0 ICID
///   interrupt (ITE)   63:48 Next | 47:16 pINTID | 15:0 ICID
@Suite struct ITSTableABI {
    @Test func deviceEntry() {
        #expect(ITSABI.deviceEntry(next: 3, ittAddress: 0x0000_0012_3456_7800, eventIDBits: 16) == 0x8006_0002_468A_CF0F)
        let d = ITSABI.decodeDeviceEntry(0x8006_0002_468A_CF0F)
        #expect(d.valid && d.next == 3 && d.ittAddress == 0x0000_0012_3456_7800 && d.eventIDBits == 16)
        // Next is 14 bits: a larger offset is clamped to the largest.
        #expect(ITSABI.deviceEntry(next: 0xFFFF, ittAddress: 0, eventIDBits: 1) == 0xFFFE_0000_0000_0000)
        #expect(!ITSABI.decodeDeviceEntry(0x7FFF_FFFF_FFFF_FFFF).valid)
    }

    @Test func collectionEntry() {
        #expect(ITSABI.collectionEntry(target: 5, icid: 9) == 0x8000_0000_0005_0009)
        let c = ITSABI.decodeCollectionEntry(0x8000_0000_0005_0009)
        #expect(c.valid && c.target == 5 && c.icid == 9)
    }

    @Test func interruptEntry() {
        #expect(ITSABI.interruptEntry(next: 1, lpi: 8192, icid: 3) == 0x0001_0000_2000_0003)
        #expect(ITSABI.interruptEntry(next: 0x1_0000, lpi: 0, icid: 0) == 0xFFFF_0000_0000_0000)
        let e = ITSABI.decodeInterruptEntry(0x0001_0000_2000_0003)
        #expect(e.next == 1 && e.lpi == 8192 && e.icid == 3)
    }

    @Test func limitsAndSize() {
        #expect(ITSABI.revision == 0 && ITSABI.entrySize == 8)
        #expect(ITSABI.maxDeviceIDOffset == 0x3FFF && ITSABI.maxEventIDOffset == 0xFFFF)
    }
}

@Suite struct LPIEncodingTests {
    @Test func intids() {
        #expect(LPI.firstINTID == 8192 && LPI.intidBits == 16 && LPI.intidLimit == 65536)
        #expect(!LPI.isLPI(8191) && LPI.isLPI(8192))
    }

    /// The configuration table byte: 7:2 Priority, 1 RES1, 0 Enable.
    @Test func configurationByte() {
        #expect(LPI.property(priority: 0xA3, enabled: true) == 0xA3)
        #expect(LPI.property(priority: 0xA0, enabled: false) == 0xA2)
        #expect(LPI.priority(ofProperty: 0xFF) == 0xFC)
        #expect(LPI.enabled(ofProperty: 0x01) && !LPI.enabled(ofProperty: 0xFE))
    }

    /// GICR_PROPBASER.IDbits [4:0]: IDbits + 1 bits of INTID, at most 16.
    @Test func propbaserLimit() {
        #expect(LPI.limit(propbaser: 0x4000_000D) == 1 << 14)
        #expect(LPI.limit(propbaser: 0x1F) == 1 << 16)
    }

    /// GICR LPI registers; GICR_PROPBASER 51:12 PA with RES0 63:59, 55:52,
    /// 6:5; GICR_PENDBASER 51:16 PA, 62 PTZ, with RES0 63, 61:59, 55:52,
    /// 15:12, 6:0; GICD_TYPER 17 LPIS, 23:19 IDbits.
    @Test func registers() {
        #expect(GICR.setlpir == 0x40 && GICR.clrlpir == 0x48 && GICR.invlpir == 0xA0)
        #expect(GICR.invallr == 0xB0 && GICR.syncr == 0xC0)
        #expect(GICR.ctlrEnableLPIs == 0x1 && GICR.typerPLPIS == 0x1)
        #expect(GICR.propbaserAddressMask == 0x000F_FFFF_FFFF_F000)
        #expect(GICR.propbaserWritable == 0x070F_FFFF_FFFF_FF9F)
        #expect(GICR.pendbaserAddressMask == 0x000F_FFFF_FFFF_0000)
        #expect(GICR.pendbaserPTZ == 0x4000_0000_0000_0000)
        #expect(GICR.pendbaserWritable == 0x470F_FFFF_FFFF_0F80)
        #expect(GICD.typerLPIS == 0x2_0000 && GICD.typerIDbitsShift == 19)
    }

    /// Shareability 11:10 and, for the redistributor tables, InnerCache
    /// 9:7 and OuterCache 58:56; for the ITS tables InnerCache 61:59 and
    /// OuterCache 55:53.
    @Test func memoryAttributeFields() {
        // Outer Shareable (0b10) -> Inner Shareable; inner Device-nGnRnE (0) -> 0b011.
        #expect(MemoryAttributes.sanitiseRedistributorTable(0x0000_0000_0000_0800) == 0x0000_0000_0000_0580)
        // Outer 0b111 -> Same-as-inner (0); inner 0b101 kept.
        #expect(MemoryAttributes.sanitiseRedistributorTable(0x0700_0000_0000_0680) == 0x0000_0000_0000_0680)
        #expect(MemoryAttributes.sanitiseITSTable(0x2840_0000_0000_0800) == 0x2800_0000_0000_0400)
    }
}
