/// How `convert` reads a UNet from the original IF layout: the few decisions `Converter.plan` asks
/// for, kept here so the converter itself only gains three calls.
enum OriginalConversion {
    /// The UNet a `--original` conversion (or an original-only folder) reads: nothing when the snapshot
    /// already has a unet component or lacks the root files.
    static func addUNet(for snapshot: Snapshot, to components: inout [SnapshotComponent]) {
        guard let original = snapshot.originalCheckpoint, original.configPath != nil, let weights = original.weights,
              !components.contains(where: { $0.name == "unet" }), snapshot.layout != .component else { return }
        components.insert(SnapshotComponent(
            name: "unet", library: "diffusers", className: "UNet2DConditionModel", directory: snapshot.path,
            configPath: nil, config: nil, weights: weights, weightsVariant: nil, requestedVariant: snapshot.variant), at: 0)
    }

    /// Picks the layout and records the sentence saying which was used.
    static func choose(
        for snapshot: Snapshot, request: ConvertRequest, components: [SnapshotComponent], notes: inout [String]
    ) throws(TensorIOError) -> UNetLayoutChoice {
        let choice: UNetLayoutChoice
        do {
            choice = try UNetLayoutChoice.choose(for: snapshot, requestOriginal: request.original)
        } catch {
            throw error.tensorIOError
        }
        let unet = components.first { isUNet($0, snapshot: snapshot) }
        let diffusersWeights = unet?.weights.flatMap { $0.path == snapshot.originalCheckpoint?.weights?.path ? nil : $0.fileName }
        if let note = UNetLayoutChoice.note(choice, snapshot: snapshot, diffusersWeights: diffusersWeights) {
            notes.append(note)
        }
        return choice
    }

    /// The original-layout source for `component` when it is the UNet and the original was chosen.
    static func input(
        for component: SnapshotComponent, choice: UNetLayoutChoice, snapshot: Snapshot
    ) throws(TensorIOError) -> OriginalConversionInput? {
        guard choice == .original, isUNet(component, snapshot: snapshot), let original = snapshot.originalCheckpoint else { return nil }
        do {
            return try OriginalConversionInput(original)
        } catch {
            throw error.tensorIOError
        }
    }

    /// The pack attachments with the derived config.json in place of unet/config.json.
    static func attachments(_ attachments: PackAttachments, original: OriginalConversionInput?) -> PackAttachments {
        guard let original else { return attachments }
        var result = attachments
        result.configJSON = original.configJSON
        return result
    }

    private static func isUNet(_ component: SnapshotComponent, snapshot: Snapshot) -> Bool {
        component.name == "unet" || snapshot.layout == .component
    }
}
