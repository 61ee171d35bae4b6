<?php

declare(strict_types=1);

use Illuminate\Support\Facades\Route;
use MqttBroadcast\Laravel\Http\Controllers\HealthController;

// Below mqtt-broadcast.path (default "mqtt-broadcast"), behind mqtt-broadcast.middleware:
// the pure-PHP package's paths and names.

Route::get('api/health', HealthController::class)->name('mqtt-broadcast.health');
