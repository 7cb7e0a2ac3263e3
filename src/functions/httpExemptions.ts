// Registers the exemptions, exemption and exemptionHistory routes (function key; writes need a role too).

import { app } from '@azure/functions';

import { appService } from '../appContext';
import {
  exemptionHandler,
  exemptionHistoryHandler,
  exemptionsDependencies,
  exemptionsHandler,
} from '../handlers/exemptionsHandler';
import { API_ROUTES, REGISTERED_METHODS } from '../http/routes';

const deps = exemptionsDependencies(appService());

app.http(API_ROUTES.exemptions.name, {
  methods: REGISTERED_METHODS,
  authLevel: API_ROUTES.exemptions.authLevel,
  route: API_ROUTES.exemptions.route,
  handler: exemptionsHandler(deps),
});

app.http(API_ROUTES.exemption.name, {
  methods: REGISTERED_METHODS,
  authLevel: API_ROUTES.exemption.authLevel,
  route: API_ROUTES.exemption.route,
  handler: exemptionHandler(deps),
});

app.http(API_ROUTES.exemptionHistory.name, {
  methods: REGISTERED_METHODS,
  authLevel: API_ROUTES.exemptionHistory.authLevel,
  route: API_ROUTES.exemptionHistory.route,
  handler: exemptionHistoryHandler(deps),
});
