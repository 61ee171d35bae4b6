<?php

declare(strict_types=1);

use Illuminate\Support\Facades\Route;
use MqttBroadcast\Laravel\Http\Controllers\HealthController;
use MqttBroadcast\Laravel\Http\Controllers\MetricsController;

// Below mqtt-broadcast.path (default "mqtt-broadcast"), behind mqtt-broadcast.middleware:
// the pure-PHP package's paths and names.

Route::get('api/health', HealthController::class)->name('mqtt-broadcast.health');

// Opt-in (mqtt-broadcast.metrics): Prometheus scrapes it.
if (filter_var(config('mqtt-broadcast.metrics', false), FILTER_VALIDATE_BOOL)) {
    Route::get('metrics', MetricsController::class)->name('mqtt-broadcast.metrics');
}
