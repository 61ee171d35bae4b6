<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use Illuminate\Cookie\Middleware\AddQueuedCookiesToResponse;
use Illuminate\Cookie\Middleware\EncryptCookies;
use Illuminate\Foundation\Http\Kernel;
use Illuminate\Foundation\Http\Middleware\VerifyCsrfToken;
use Illuminate\Session\Middleware\StartSession;

/** The test application's HTTP kernel: the "web" group of Laravel's application skeleton, with its session and CSRF check. */
class HttpKernel extends Kernel
{
    protected $middlewareGroups = [
        'web' => [
            EncryptCookies::class,
            AddQueuedCookiesToResponse::class,
            StartSession::class,
            VerifyCsrfToken::class,
        ],
    ];
}
