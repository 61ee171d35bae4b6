<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use Illuminate\Foundation\Http\Kernel;

/** The test application's HTTP kernel: the "web" group every application has, empty here. */
class HttpKernel extends Kernel
{
    protected $middlewareGroups = ['web' => []];
}
