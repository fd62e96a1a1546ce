using Microsoft.AspNetCore.Components.Server.Circuits;

namespace OperationsHub.Web.Features.Live;

/// <summary>
/// Tells the components of one circuit that its connection came back. Signals published while the browser was away
/// were delivered to the server-side components, but a page re-queries anyway: the database is the truth.
/// </summary>
public sealed class CircuitConnection
{
    public event Func<Task>? Reconnected;

    internal Task RaiseReconnectedAsync() => Reconnected?.Invoke() ?? Task.CompletedTask;
}

internal sealed class CircuitConnectionHandler(CircuitConnection connection) : CircuitHandler
{
    private bool _wasDown;

    public override Task OnConnectionDownAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        _wasDown = true;
        return Task.CompletedTask;
    }

    public override Task OnConnectionUpAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        if (!_wasDown)
        {
            return Task.CompletedTask;
        }

        _wasDown = false;
        return connection.RaiseReconnectedAsync();
    }
}
