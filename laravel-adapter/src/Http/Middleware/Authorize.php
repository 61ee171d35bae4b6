<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Http\Middleware;

use Closure;
use Illuminate\Contracts\Auth\Access\Gate;
use Illuminate\Http\Request;
use Symfony\Component\HttpFoundation\Response;

/**
 * The package's routes, as Horizon guards its dashboard (and the pure-PHP
 * package its own): open in the local environment, elsewhere to whom the
 * `viewMqttBroadcast` gate allows. No gate defined means no one.
 */
class Authorize
{
    public function handle(Request $request, Closure $next): Response
    {
        if (app()->environment('local')) {
            return $next($request);
        }
        if (app()->bound(Gate::class) && app(Gate::class)->check('viewMqttBroadcast', [$request->user()])) {
            return $next($request);
        }
        return new Response('Forbidden', 403);
    }
}
