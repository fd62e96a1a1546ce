using System.Diagnostics.CodeAnalysis;

namespace OperationsHub.Core.Operations;

/// <summary>What the hub knows about an operation type, for the worker, the start surfaces and the pages.</summary>
public sealed record OperationTypeDescriptor
{
    public OperationTypeDescriptor(string type, string displayName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        ArgumentException.ThrowIfNullOrWhiteSpace(displayName);
        Type = type;
        DisplayName = displayName;
    }

    /// <summary>The stable key stored on runs, e.g. <c>inventory_sync</c>.</summary>
    public string Type { get; }

    public string DisplayName { get; }

    public string Description { get; init; } = string.Empty;

    /// <summary>Safe to run again after a worker died mid-run; only then does recovery re-queue it.</summary>
    public bool RetrySafe { get; init; }

    /// <summary>Input names that make two start requests "the same work" (in addition to tenant and type).</summary>
    public IReadOnlyList<string> IdentityInputs { get; init; } = [];

    /// <summary>
    /// A partially succeeded run of this type can be retried for its failed items only: the retry's handler finds the
    /// failed item keys (as the run recorded them with <c>ItemFailed</c>) in <c>Context.Items</c> and works on those.
    /// </summary>
    public bool RetriesFailedItems { get; init; }

    /// <summary>Hidden from start surfaces (benchmarks, system housekeeping).</summary>
    public bool Internal { get; init; }

    /// <summary>
    /// A tenant page (relative to <c>/admin/t/{tenant}/</c>) that starts this type, when it needs more than a button
    /// and a few text inputs: the start surfaces lead there instead of starting it themselves.
    /// </summary>
    public string? StartPage { get; init; }

    /// <summary>What a run of this type works on when it has no identity inputs ("All devices").</summary>
    public string DefaultTarget { get; init; } = "All";

    /// <summary>
    /// The target every start surface shows for these identity inputs: <see cref="DefaultTarget"/> without any,
    /// else each as "Backup bk-2" (the input's name without a trailing "_id", in words).
    /// </summary>
    public string TargetFor(IReadOnlyDictionary<string, string>? identity) =>
        identity is not { Count: > 0 }
            ? DefaultTarget
            : string.Join(", ", IdentityInputs.Where(identity.ContainsKey).Select(name => $"{InputLabel(name)} {identity[name]}"));

    /// <summary>"backup_id" reads "Backup"; "device_group" reads "Device group".</summary>
    public static string InputLabel(string input)
    {
        var words = (input.EndsWith("_id", StringComparison.Ordinal) ? input[..^3] : input).Replace('_', ' ').Trim();
        return words.Length == 0 ? input : char.ToUpperInvariant(words[0]) + words[1..];
    }
}

/// <summary>The operation types registered with <see cref="OperationsHubServiceCollectionExtensions.AddOperationType{THandler}"/>.</summary>
public sealed class OperationTypeRegistry
{
    private readonly Dictionary<string, OperationTypeDescriptor> _types;

    public OperationTypeRegistry(IEnumerable<OperationTypeDescriptor> descriptors)
    {
        _types = new Dictionary<string, OperationTypeDescriptor>(StringComparer.Ordinal);
        foreach (var descriptor in descriptors)
        {
            if (!_types.TryAdd(descriptor.Type, descriptor))
            {
                throw new InvalidOperationException($"Operation type '{descriptor.Type}' is registered twice.");
            }
        }

        Types = [.. _types.Keys];
    }

    public IReadOnlyCollection<OperationTypeDescriptor> All => _types.Values;

    /// <summary>The registered type keys: the types this node's worker claims.</summary>
    public IReadOnlyList<string> Types { get; }

    public bool TryGet(string type, [NotNullWhen(true)] out OperationTypeDescriptor? descriptor) =>
        _types.TryGetValue(type, out descriptor);

    /// <summary>The friendly name of a type; the raw type key for one no longer registered (old runs).</summary>
    public string DisplayNameOf(string type) => _types.TryGetValue(type, out var descriptor) ? descriptor.DisplayName : type;
}
