using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OperationsHub.Core.Domain;
using OperationsHub.Core.ExternalDirectory;
using OperationsHub.Core.Operations;

namespace OperationsHub.Core.Samples;

/// <summary>
/// Operation types that do honest, deterministic work for the demo: they take real time, report real progress
/// and end with every outcome the hub knows. Their "remote calls" are simulated, and so are their failures.
/// </summary>
public static class SampleOperations
{
    public const string InventorySync = "inventory_sync";
    public const string PolicySync = "policy_sync";
    public const string Backup = "backup";
    public const string Restore = "restore";
    public const string DirectorySync = "directory_sync";

    public static IServiceCollection AddSampleOperations(this IServiceCollection services)
    {
        services.TryAddSingleton<IDirectoryClient, DemoDirectoryClient>();
        services.TryAddSingleton<RestorePlanner>();
        services.AddSingleton<IOperationStartValidator, RestoreStartValidator>();
        return services.AddSampleOperationTypes();
    }

    private static IServiceCollection AddSampleOperationTypes(this IServiceCollection services) => services
        .AddOperationType<InventorySyncHandler>(new(InventorySync, "Inventory sync")
        {
            Description = "Reads every managed device of the tenant and refreshes the inventory.",
            RetrySafe = true,
            RetriesFailedItems = true,
            DefaultTarget = "All devices",
        })
        .AddOperationType<PolicySyncHandler>(new(PolicySync, "Policy sync")
        {
            Description = "Pulls the tenant's configuration and compliance policies into the hub.",
            RetrySafe = true,
            DefaultTarget = "All policies",
        })
        .AddOperationType<BackupHandler>(new(Backup, "Backup")
        {
            Description = "Takes a point-in-time backup of the tenant's policies and their group assignments.",
            RetrySafe = true,
            DefaultTarget = "All policies",
        })
        .AddOperationType<RestoreHandler>(new(Restore, "Restore")
        {
            Description = "Restores policy assignments from a backup onto groups you map from the directory cache. Not repeated automatically if a worker dies.",
            IdentityInputs = [RestoreInputs.BackupId],
            StartPage = "restore",
        })
        .AddOperationType<DirectorySyncHandler>(new(DirectorySync, "Directory sync")
        {
            Description = "Refreshes the tenant's cache of Entra groups, used by restore mapping and role bindings.",
            RetrySafe = true,
            DefaultTarget = "All groups",
        });

    internal static int IntInput(IOperationContext context, string name, int fallback, int min, int max) =>
        context.Context.Inputs.TryGetValue(name, out var raw)
        && int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? Math.Clamp(value, min, max)
            : fallback;
}

/// <summary>
/// Devices over N items; a seeded rule fails every k-th device, so the run partially succeeds. A retry of the failed
/// items reads only those devices (its <c>Context.Items</c>), which answer this time.
/// </summary>
internal sealed class InventorySyncHandler(TimeProvider time) : IOperationHandler
{
    /// <summary>A progress line every this many devices, so the log tells how far the sync got without one line per device.</summary>
    private const int LogEvery = 25;

    public async Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
    {
        var retryItems = context.Context.Items;
        var failEvery = retryItems is null ? SampleOperations.IntInput(context, "fail_every", 17, 0, 100_000) : 0;
        var devices = retryItems ?? Devices(SampleOperations.IntInput(context, "items", 120, 0, 100_000));
        var delay = TimeSpan.FromMilliseconds(SampleOperations.IntInput(context, "item_delay_ms", 40, 0, 10_000));
        context.SetTotal(devices.Count);
        context.Log(RunLogLevel.Information, retryItems is null
            ? string.Create(CultureInfo.InvariantCulture, $"Reading the inventory of {devices.Count:N0} managed devices.")
            : string.Create(CultureInfo.InvariantCulture, $"Reading again the {devices.Count:N0} devices that did not answer last time."));
        int ok = 0, unreachable = 0;
        for (var i = 1; i <= devices.Count; i++)
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            var device = devices[i - 1];
            if (failEvery > 0 && i % failEvery == 0)
            {
                context.ItemFailed("device_unreachable", $"{device} did not answer the inventory request (HTTP 503).", device);
                context.Log(RunLogLevel.Warning, $"{device} did not answer (HTTP 503); it is counted as failed.");
                unreachable++;
            }
            else
            {
                context.ItemSucceeded();
                ok++;
            }

            if (i % LogEvery == 0 && i < devices.Count)
            {
                context.Log(RunLogLevel.Information, string.Create(CultureInfo.InvariantCulture, $"Read {i:N0} of {devices.Count:N0} devices."));
            }
        }

        context.Log(unreachable == 0 ? RunLogLevel.Information : RunLogLevel.Warning,
            string.Create(CultureInfo.InvariantCulture, $"Inventory refreshed: {ok:N0} devices read, {unreachable:N0} unreachable."));
    }

    private static List<string> Devices(int count) =>
        [.. Enumerable.Range(1, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"DEV-{i:D5}"))];
}

/// <summary>Policies over N items, all of which succeed.</summary>
internal sealed class PolicySyncHandler(TimeProvider time) : IOperationHandler
{
    public async Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
    {
        var items = SampleOperations.IntInput(context, "items", 40, 0, 100_000);
        var delay = TimeSpan.FromMilliseconds(SampleOperations.IntInput(context, "item_delay_ms", 75, 0, 10_000));
        context.SetTotal(items);
        context.Log(RunLogLevel.Information, string.Create(CultureInfo.InvariantCulture, $"Pulling {items:N0} configuration and compliance policies."));
        for (var i = 1; i <= items; i++)
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, cancellationToken);
            }

            context.ItemSucceeded();
            context.Log(RunLogLevel.Information, string.Create(CultureInfo.InvariantCulture, $"Pulled policy {i:N0} of {items:N0}."));
        }

        context.Log(RunLogLevel.Information, "Policies are up to date.");
    }
}
