<?php

declare(strict_types=1);

use Illuminate\Support\Facades\Route;
use MqttBroadcast\Laravel\Http\Controllers\DashboardController;
use MqttBroadcast\Laravel\Http\Controllers\HealthController;
use MqttBroadcast\Laravel\Http\Controllers\MetricsController;
use MqttBroadcast\Laravel\Http\Middleware\Authorize;

// Below mqtt-broadcast.path (default "mqtt-broadcast"), behind mqtt-broadcast.middleware:
// the pure-PHP package's paths and names.

// The dashboard takes the gate whatever the middleware list says: a list
// without Authorize, for a load balancer's probe, opens only the endpoints below.
Route::middleware(Authorize::class)->group(function (): void {
    Route::get('/', [DashboardController::class, 'show'])->name('mqtt-broadcast.dashboard');
    Route::get('api/stats', [DashboardController::class, 'stats'])->name('mqtt-broadcast.stats');
    Route::post('api/failed-jobs/{id}/retry', [DashboardController::class, 'retry'])->name('mqtt-broadcast.failed.retry');
});

Route::get('api/health', HealthController::class)->name('mqtt-broadcast.health');

// Opt-in (mqtt-broadcast.metrics): Prometheus scrapes it.
if (filter_var(config('mqtt-broadcast.metrics', false), FILTER_VALIDATE_BOOL)) {
    Route::get('metrics', MetricsController::class)->name('mqtt-broadcast.metrics');
}
