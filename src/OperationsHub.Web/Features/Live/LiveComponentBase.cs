using Microsoft.AspNetCore.Components;
using OperationsHub.Core.Feed;

namespace OperationsHub.Web.Features.Live;

/// <summary>
/// The one live-update pattern: subscribe to the change feed for a scope while the component is interactive, answer
/// each (already throttled) delivery by re-querying on the renderer's context, re-render, and dispose every
/// subscription with the component. A dropped circuit that reconnects re-runs the same refresh.
/// </summary>
public abstract class LiveComponentBase : ComponentBase, IDisposable
{
    private readonly List<IDisposable> _subscriptions = [];
    private readonly CancellationTokenSource _lifetime = new();
    private Func<Task>? _onReconnected;

    [Inject]
    private IRunChangeFeed Feed { get; set; } = default!;

    /// <summary>The viewer's time zone, cascaded from the root of the page (UTC when the browser did not say).</summary>
    [CascadingParameter]
    protected OperationsHub.Web.Features.Preferences.ViewerTime Viewer { get; set; } = OperationsHub.Web.Features.Preferences.ViewerTime.Utc;

    [Inject]
    private CircuitConnection Connection { get; set; } = default!;

    /// <summary>Cancelled when the component goes away; pass it to every query.</summary>
    protected CancellationToken Disposing => _lifetime.Token;

    /// <summary>
    /// Calls <paramref name="refresh"/> for every delivery on <paramref name="scope"/> (and after a reconnect).
    /// Does nothing while prerendering: a prerendered component is thrown away, and so would its subscription be.
    /// A view of states (counts per status, notifications, an operation's active run) passes
    /// <paramref name="progress"/> false: a delivery in which only runs' counts moved then costs it no query and no
    /// render.
    /// </summary>
    protected void Watch(RunChangeScope scope, Func<RunChangeBatch, Task> refresh, bool progress = true)
    {
        if (!RendererInfo.IsInteractive)
        {
            return;
        }

        _subscriptions.Add(Feed.Subscribe(scope, batch => progress || !batch.ProgressOnly
            ? InvokeAsync(() => RefreshAsync(() => refresh(batch)))
            : Task.CompletedTask));
        if (_onReconnected is null)
        {
            _onReconnected = () => InvokeAsync(() => RefreshAsync(() => refresh(new RunChangeBatch([], Overflowed: true))));
            Connection.Reconnected += _onReconnected;
        }
    }

    /// <summary>Drops the current subscriptions (when the component starts watching something else).</summary>
    protected void StopWatching()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        _subscriptions.Clear();
        if (_onReconnected is not null)
        {
            Connection.Reconnected -= _onReconnected;
            _onReconnected = null;
        }
    }

    /// <summary>
    /// A refresh failed. By default the error goes to the nearest error boundary; a component outside one (in the
    /// layout) overrides this so that a failed refresh cannot end the circuit.
    /// </summary>
    protected virtual Task OnRefreshFailedAsync(Exception exception) => DispatchExceptionAsync(exception);

    public void Dispose()
    {
        _lifetime.Cancel();
        StopWatching();
        Dispose(disposing: true);
        _lifetime.Dispose();
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>
    /// Re-renders every <paramref name="interval"/> on <paramref name="time"/>'s clock while the component lives (and,
    /// when given, while <paramref name="when"/> holds at the tick): for what ages without a change signal, such as
    /// "3 min ago" or a run's silence. Does nothing while prerendering.
    /// </summary>
    protected void RerenderEvery(TimeSpan interval, TimeProvider time, Func<bool>? when = null)
    {
        if (RendererInfo.IsInteractive)
        {
            _ = TickAsync(interval, time, when, _lifetime.Token);
        }
    }

    private async Task TickAsync(TimeSpan interval, TimeProvider time, Func<bool>? when, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                if (when?.Invoke() != false)
                {
                    await InvokeAsync(StateHasChanged);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the component went away
        }
    }

    private async Task RefreshAsync(Func<Task> refresh)
    {
        if (_lifetime.IsCancellationRequested)
        {
            return;
        }

        try
        {
            await refresh();
            StateHasChanged();
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            await OnRefreshFailedAsync(ex);
        }
    }
}
