import Bench
import Testing

/// `CPUDescription` reads the model and vector extensions out of `/proc/cpuinfo` text.
@Suite struct CPUDescriptionTests {
  static let zen3 = """
    processor\t: 0
    vendor_id\t: AuthenticAMD
    model name\t: AMD EPYC 7B13
    flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2

    processor\t: 1
    vendor_id\t: AuthenticAMD
    model name\t: AMD EPYC 7B13
    flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2

    """

  static let sapphireRapids = """
    processor\t: 0
    model name\t: Intel(R) Xeon(R) Platinum 8481C
    flags\t\t: sse4_2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16 \
    amx_bf16 amx_tile amx_int8 avx512_fp16

    """

  @Test func avx2Only() {
    let cpu = CPUDescription(cpuinfo: Self.zen3)
    #expect(cpu.model == "AMD EPYC 7B13")
    #expect(cpu.processors == 2)
    #expect(cpu.vectorExtensions == ["sse4_2", "avx", "avx2", "fma"])
    #expect(cpu.summary == "AMD EPYC 7B13, 2 logical CPUs, sse4_2 avx avx2 fma (no AVX-512)")
  }

  @Test func avx512AndAMX() {
    let cpu = CPUDescription(cpuinfo: Self.sapphireRapids)
    #expect(cpu.model == "Intel(R) Xeon(R) Platinum 8481C")
    #expect(cpu.processors == 1)
    #expect(
      cpu.vectorExtensions == [
        "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
        "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8", "avx512_fp16", "avx512dq",
      ])
    #expect(!cpu.summary.contains("no AVX-512"))
  }

  @Test func textWithoutCPUFields() {
    let cpu = CPUDescription(cpuinfo: "")
    #expect(cpu.model == "unknown CPU")
    #expect(cpu.processors == 0)
    #expect(cpu.vectorExtensions.isEmpty)
  }
}
