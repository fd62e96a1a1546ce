using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
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

/// <summary>Devices over N items; a seeded rule fails every k-th device, so the run partially succeeds.</summary>
internal sealed class InventorySyncHandler(TimeProvider time) : IOperationHandler
{
    public async Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
    {
        var items = SampleOperations.IntInput(context, "items", 120, 0, 100_000);
        var failEvery = SampleOperations.IntInput(context, "fail_every", 17, 0, 100_000);
        var delay = TimeSpan.FromMilliseconds(SampleOperations.IntInput(context, "item_delay_ms", 40, 0, 10_000));
        context.SetTotal(items);
        for (var i = 1; i <= items; i++)
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            var device = string.Create(CultureInfo.InvariantCulture, $"DEV-{i:D5}");
            if (failEvery > 0 && i % failEvery == 0)
            {
                context.ItemFailed("device_unreachable", $"{device} did not answer the inventory request (HTTP 503).", device);
            }
            else
            {
                context.ItemSucceeded();
            }
        }
    }
}

/// <summary>Policies over N items, all of which succeed.</summary>
internal sealed class PolicySyncHandler(TimeProvider time) : IOperationHandler
{
    public async Task ExecuteAsync(IOperationContext context, CancellationToken cancellationToken)
    {
        var items = SampleOperations.IntInput(context, "items", 40, 0, 100_000);
        var delay = TimeSpan.FromMilliseconds(SampleOperations.IntInput(context, "item_delay_ms", 75, 0, 10_000));
        context.SetTotal(items);
        for (var i = 0; i < items; i++)
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, cancellationToken);
            }

            context.ItemSucceeded();
        }
    }
}
