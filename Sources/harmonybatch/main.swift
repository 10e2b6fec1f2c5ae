import Foundation
import HarmonyBatchCLI

exit(await HarmonyBatch.main(Array(CommandLine.arguments.dropFirst())))
