import Foundation

/// Output for commands: data on standard output, diagnostics on standard error, both unbuffered
/// at line granularity so pipes and tests see each line when it is written.
public enum Console {
  public static func out(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
  }

  public static func err(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
  }
}
