import Testing

@testable import Bench

@Suite struct CPUDescriptionTests {
  @Test func aZen3WithoutAVX512IsDescribedFromItsCpuinfo() {
    let processor = """
      processor\t: %d
      vendor_id\t: AuthenticAMD
      model name\t: AMD EPYC
      flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2

      """
    let text =
      processor.replacingOccurrences(of: "%d", with: "0")
      + processor.replacingOccurrences(of: "%d", with: "1")
    let cpu = CPUDescription(cpuinfo: text)
    #expect(cpu?.model == "AMD EPYC")
    #expect(cpu?.logicalCPUs == 2)
    #expect(cpu?.vectorExtensions == ["sse4_2", "avx", "avx2", "fma"])
    #expect(cpu?.summary == "AMD EPYC, 2 logical CPUs, sse4_2 avx avx2 fma (no AVX-512)")
  }

  @Test func anAVX512MachineNamesItsExtensionsAndNothingIsNil() {
    let text = """
      processor\t: 0
      model name\t: Intel(R) Xeon(R) Platinum 8488C
      flags\t\t: sse4_2 avx avx2 fma avx512f avx512bw avx512vl avx512_vnni avx512_bf16 amx_tile
      """
    let cpu = CPUDescription(cpuinfo: text)
    #expect(cpu?.summary.hasSuffix("avx512_bf16 amx_tile") == true)
    #expect(CPUDescription(cpuinfo: "") == nil)
    #expect(CPUDescription.current() != nil)
  }
}
