namespace OperationsHub.Core.ExternalDirectory;

/// <summary>A directory group as the identity provider knows it.</summary>
public sealed record DirectoryGroup(string Id, string DisplayName, int MemberCount);

/// <summary>
/// The external directory (Microsoft Graph in production). Only operation handlers call it, inside runs; the hub's
/// pages never do, so they render from the database alone and stay fast and available when the directory is not.
/// </summary>
public interface IDirectoryClient
{
    IAsyncEnumerable<DirectoryGroup> ListGroupsAsync(long tenantId, CancellationToken cancellationToken);
}

/// <summary>A deterministic stand-in for the demo: N groups per tenant, no network.</summary>
public sealed class DemoDirectoryClient : IDirectoryClient
{
    public async IAsyncEnumerable<DirectoryGroup> ListGroupsAsync(
        long tenantId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var i = 1; i <= 60; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new DirectoryGroup($"grp-{tenantId}-{i:D3}", $"Group {i:D3}", (i * 7) % 50);
            await Task.Yield();
        }
    }
}
