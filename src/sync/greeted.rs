//! The warning a sync gives when a neighbour greets under another node name than the
//! one its `[[peer]]` entry gives it (`peer add` cannot know what it calls itself).

/// Warns (stderr) when the neighbour we call `name` greets as another node name: the
/// name written into its Path entries, which is how loops are recognised.
pub(super) fn warn_if_named_otherwise(name: &str, greeted_as: Option<&str>) {
    if let Some(own) = greeted_as.filter(|own| *own != name) {
        tracing::warn!(
            "peer {name} calls itself {own:?} ([node] name there): name it {own} here \
             (`newsmesh peer edit {name} --name {own}`), so Path entries match"
        );
    }
}
